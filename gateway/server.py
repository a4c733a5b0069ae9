"""Running the gateway under uvicorn (uvloop + httptools), loopback-bound by default."""

from __future__ import annotations

import gc
import logging

import anyio
import uvicorn

from gateway.app import create_app
from gateway.builders import open_configured_state
from gateway.composition import build_gateway
from gateway.settings import Settings
from gateway.store import StoreUnavailable
from gateway.store.factory import check_schema, schema_urls

logger = logging.getLogger("mcp_gateway")


def serve(settings: Settings) -> None:
    """Serve until stopped. A store (or a PostgreSQL ``audit_store``) whose schema is not current
    stops it before it starts (:class:`~gateway.store.SchemaNotCurrent`); one that does not answer
    does not: requests get 503 until it is back, and it checks its schema then."""
    server = settings.server
    logging.basicConfig(
        level=server.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    # A trail in a database of its own (audit_store) is checked as the store's is.
    for url in schema_urls(server.store, settings.audit.audit_store):
        try:
            anyio.run(check_schema, url)
        except StoreUnavailable as exc:
            logger.warning("the store's schema could not be checked at start-up: %s", exc)
    app = create_app(build_gateway(settings, open_configured_state(settings)))
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
