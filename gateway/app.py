"""The ASGI application: the routes of each role, the ``/mcp`` stack, the error handlers and the
background work, around the parts :func:`~gateway.composition.build_gateway` wired."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware

from gateway import paths
from gateway.admin.boundary import AdminRoute
from gateway.admin.routes import admin_app, admin_routes
from gateway.audit.channels import AuditChannel
from gateway.composition import Gateway
from gateway.console.routes import console_routes
from gateway.error_handlers import EXCEPTION_HANDLERS
from gateway.key_encryption import KeyEncryptionError
from gateway.oauth.routes import authorization_server_routes
from gateway.resource.routes import McpRoute, mcp_app, protected_resource_routes
from gateway.store import StoreUnavailable

logger = logging.getLogger("mcp_gateway")
AUDIT_CHANNELS = ((paths.ADMIN_API, "admin-api"), (paths.CONSOLE, "console"))
"""The channel of each operators' face; every other path is an agent's."""


def create_app(gateway: Gateway) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            await gateway.keys.ensure_keys()
        except StoreUnavailable:
            logger.warning("the store is unavailable at start-up; requests get 503 until it is back")
        except KeyEncryptionError as exc:  # the wrong KEK: nothing could be signed or verified
            logger.error("the signing keys cannot be opened: %s", exc)
            raise
        background = [
            asyncio.create_task(gateway.refresher_task.run()),
            asyncio.create_task(gateway.approvals_task.run()),
            asyncio.create_task(gateway.webhooks_task.run()),
            *(asyncio.create_task(task.run()) for task in gateway.audit_export_tasks),
            asyncio.create_task(gateway.audit_retention_task.run()),
            asyncio.create_task(gateway.audit_task.run()),  # last to stop: the others audit
        ]
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await gateway.aclose()  # the trail first: what is buffered is written and signed

    return Starlette(
        routes=[
            *protected_resource_routes(gateway),
            *authorization_server_routes(gateway),
            *admin_routes(gateway),
            *console_routes(gateway),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(AuditChannel, audit=gateway.audit, channels=AUDIT_CHANNELS),
            Middleware(McpRoute, path=gateway.settings.mcp.mcp_path, mcp_app=mcp_app(gateway)),
            Middleware(AdminRoute, prefix=paths.ADMIN_API, admin_app=admin_app(gateway)),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
