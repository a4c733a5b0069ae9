"""Running the gateway under uvicorn (uvloop + httptools), loopback-bound by default."""

from __future__ import annotations

import gc
import logging

import uvicorn

from gateway.app import create_app
from gateway.composition import build_gateway
from gateway.settings import Settings
from gateway.store.factory import open_store


def serve(settings: Settings) -> None:
    server = settings.server
    logging.basicConfig(
        level=server.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    app = create_app(build_gateway(settings, open_store(server.store)))
    gc.collect()
    gc.freeze()  # start-up objects never need scanning again
    gc.set_threshold(50_000, 20, 100)  # fewer young-generation passes on the request path
    uvicorn.run(
        app,
        host=server.host,
        port=server.port,
        log_level=server.log_level,
        server_header=False,
        proxy_headers=False,
        access_log=False,
    )
