"""``mcp-gateway``: serve; migrate the store's schema; manage clients, users, tools, keys, webhooks,
held calls, access requests and grants on the store; read and verify the audit trail.

Every management command works on the same store as a running server, so a client added here is
usable at once without a restart. ``--json`` prints machine-readable output for scripts.
Exit codes: 0 done, 1 the store or the object was not there, 2 bad configuration or arguments, a
store whose schema is not current (run ``mcp-gateway migrate``), or a decision the approval loop's
rules refuse (decided already, one's own request), 3 ``audit verify`` found the trail changed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio

from gateway.cli import approvals, audit, calls, clients, grants, keys, migrate, tools, users, webhooks
from gateway.cli.output import Handler
from gateway.config import ConfigError, load_settings
from gateway.errors import NotFound, OAuthError
from gateway.oauth.authorize.users import UserError
from gateway.oauth.clients.model import ClientError
from gateway.settings import Settings
from gateway.store import SchemaNotCurrent, StoreUnavailable
from gateway.store.factory import check_schema, schema_urls

COMMANDS = (clients, users, tools, keys, webhooks, calls, approvals, grants, audit)
HANDLERS: dict[tuple[str, str], Handler] = {
    action: handler for command in COMMANDS for action, handler in command.HANDLERS.items()
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp-gateway", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="TOML config file (or MCP_GATEWAY_CONFIG)")
    parser.add_argument("--store", help="store URL, overrides the config (or MCP_GATEWAY_STORE)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", help="bind address (default 127.0.0.1: loopback only)")
    serve.add_argument("--port", type=int)
    migrate.add_parser(commands)
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            from gateway.server import serve

            overrides = {"store": args.store, "host": args.host, "port": args.port}
            serve(load_settings(args.config, overrides=overrides))
            return 0
        settings = load_settings(args.config, overrides={"store": args.store})
        if args.command == "migrate":
            return anyio.run(
                migrate.run, schema_urls(settings.server.store, settings.audit.audit_store), args
            )
        return anyio.run(_with_gateway, settings, args, HANDLERS[(args.command, args.action)])
    except (ConfigError, ClientError, UserError, ValueError, SchemaNotCurrent) as exc:
        print(f"mcp-gateway: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print(f"mcp-gateway: the store is unavailable: {exc}", file=sys.stderr)
        return 1
    except OAuthError as exc:  # a desk's refusal, worded for whoever asked
        print(f"mcp-gateway: {exc.description or exc.error}", file=sys.stderr)
        return 1 if isinstance(exc, NotFound) else 2


async def _with_gateway(settings: Settings, args: argparse.Namespace, handler: Handler) -> int:
    from gateway.builders import open_configured_state
    from gateway.composition import build_gateway
    from gateway.upstream.aiohttp_transport import AiohttpTransport
    from gateway.upstream.recording_transport import RecordingTransport

    for url in schema_urls(settings.server.store, settings.audit.audit_store):
        await check_schema(url)
    # Recording costs nothing until a command asks for it (``tools test`` shows what went upstream).
    transport = RecordingTransport(AiohttpTransport())
    gateway = build_gateway(settings, open_configured_state(settings), transport=transport)
    try:
        with gateway.audit.entered_via("cli"):
            return await handler(gateway, args)
    finally:
        await gateway.aclose()  # what the command recorded is written before it exits


if __name__ == "__main__":
    raise SystemExit(main())
