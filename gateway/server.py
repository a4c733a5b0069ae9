"""Running the gateway under uvicorn (uvloop + httptools), loopback-bound by default."""

from __future__ import annotations

import logging

import uvicorn

from gateway.app import build_gateway, create_app
from gateway.config import Settings
from gateway.store.factory import open_store


def serve(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    app = create_app(build_gateway(settings, open_store(settings.store)))
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        server_header=False,
        proxy_headers=False,
        access_log=False,
    )
