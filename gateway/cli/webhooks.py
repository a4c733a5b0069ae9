"""``mcp-gateway webhooks add|list|show|remove|deliveries|rotate-secret|enable|disable``: the
endpoints that hear the security team's events (see :mod:`gateway.webhooks`).

Endpoints live in the store (collection ``webhook_endpoints``), so a running gateway delivers to
one as soon as it is added. Its secret (``whsec_…``) is shown once, by ``add`` and by
``rotate-secret``, and kept only sealed. ``deliveries`` reads an endpoint's log: one line per
attempt. Exit codes as for the other commands: 0 done, 1 no such endpoint or the store is down,
2 bad arguments.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from gateway.cli.operator import add_operator_flags, operator_of
from gateway.cli.output import Handler, add_json_flag, emit, not_found, removed, table, when
from gateway.webhooks import EVENTS
from gateway.webhooks.deliveries import Delivery
from gateway.webhooks.dispatcher import Webhooks
from gateway.webhooks.endpoints import ROTATION_GRACE, Endpoint

if TYPE_CHECKING:
    from gateway.composition import Gateway

KIND = "webhook endpoint"


def add_parser(commands: Any) -> None:
    webhooks = commands.add_parser("webhooks", help="manage webhook endpoints for security events")
    actions = webhooks.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="subscribe a URL to events; prints its secret once")
    add.add_argument("--url", required=True, help="where deliveries are POSTed (https)")
    add.add_argument(
        "--event", action="append", required=True, help=f"an event it hears (repeatable): {', '.join(EVENTS)}"
    )
    add.add_argument("--description", default="", help="who listens there, for people")
    actions.add_parser("list", help="list webhook endpoints")
    actions.add_parser("show", help="show a webhook endpoint").add_argument("endpoint_id")
    actions.add_parser("remove", help="remove an endpoint and its deliveries").add_argument("endpoint_id")
    actions.add_parser("deliveries", help="an endpoint's delivery log").add_argument("endpoint_id")
    rotate = actions.add_parser("rotate-secret", help="a new secret; prints it once")
    rotate.add_argument("endpoint_id")
    rotate.add_argument(
        "--grace",
        type=float,
        default=ROTATION_GRACE,
        help=f"seconds the old secret still signs beside the new one (default {ROTATION_GRACE:g})",
    )
    actions.add_parser("enable", help="deliver to it again").add_argument("endpoint_id")
    actions.add_parser("disable", help="pause it: deliveries wait").add_argument("endpoint_id")
    add_json_flag(actions.choices.values())
    add_operator_flags(actions, ("add", "remove", "rotate-secret", "enable", "disable"))


def _webhooks(gateway: Gateway) -> Webhooks:
    """The endpoints and their logs on the gateway's store, sealed under the KEK its keys use."""
    return gateway.webhooks


def _lines(endpoint: Endpoint) -> str:
    return "\n".join(
        (
            f"id: {endpoint.id}",
            f"url: {endpoint.url}",
            f"events: {' '.join(endpoint.events)}",
            f"description: {endpoint.description or '-'}",
            f"enabled: {'yes' if endpoint.enabled else 'no'}",
            f"created: {when(endpoint.created_at)}",
            f"previous secret signs until: {when(endpoint.previous_secret_until)}",
        )
    )


async def _add(gateway: Gateway, args: argparse.Namespace) -> int:
    endpoint, secret = await _webhooks(gateway).endpoints.add(
        args.url, args.event, args.description, by=operator_of(args).subject
    )
    shown_once = f"secret: {secret}\n(shown once: the gateway keeps it sealed)"
    text = f"added {KIND} {endpoint.id}\n{_lines(endpoint)}\n{shown_once}"
    emit(args, {**endpoint.as_dict(), "secret": secret}, text)
    return 0


async def _list(gateway: Gateway, args: argparse.Namespace) -> int:
    endpoints = await _webhooks(gateway).endpoints.list_endpoints()
    rows = [(e.id, e.url, e.events, e.enabled, e.description or None) for e in endpoints]
    text = table(("id", "url", "events", "enabled", "description"), rows, "no webhook endpoints")
    emit(args, [e.as_dict() for e in endpoints], text)
    return 0


async def _show(gateway: Gateway, args: argparse.Namespace) -> int:
    endpoint = await _webhooks(gateway).endpoints.get(args.endpoint_id)
    if endpoint is None:
        return not_found(KIND, args.endpoint_id)
    emit(args, endpoint.as_dict(), _lines(endpoint))
    return 0


async def _remove(gateway: Gateway, args: argparse.Namespace) -> int:
    if not await _webhooks(gateway).remove_endpoint(args.endpoint_id, by=operator_of(args).subject):
        return not_found(KIND, args.endpoint_id)
    return removed(args, KIND, args.endpoint_id)


def _attempt_rows(delivery: Delivery) -> list[tuple[object, ...]]:
    if not delivery.attempts:
        return [(delivery.id, delivery.event, delivery.state, None, None, "queued")]
    return [
        (delivery.id, delivery.event, delivery.state, number, when(attempt.at), attempt.summary())
        for number, attempt in enumerate(delivery.attempts, start=1)
    ]


async def _deliveries(gateway: Gateway, args: argparse.Namespace) -> int:
    webhooks = _webhooks(gateway)
    if await webhooks.endpoints.get(args.endpoint_id) is None:
        return not_found(KIND, args.endpoint_id)
    log = await webhooks.deliveries.for_endpoint(args.endpoint_id)
    rows = [row for delivery in log for row in _attempt_rows(delivery)]
    headers = ("delivery", "event", "state", "attempt", "at", "result")
    emit(args, [d.as_dict() for d in log], table(headers, rows, "no deliveries"))
    return 0


async def _rotate_secret(gateway: Gateway, args: argparse.Namespace) -> int:
    rotated = await _webhooks(gateway).endpoints.rotate_secret(
        args.endpoint_id, max(args.grace, 0.0), by=operator_of(args).subject
    )
    if rotated is None:
        return not_found(KIND, args.endpoint_id)
    endpoint, secret = rotated
    until = endpoint.previous_secret_until
    old = f"the old secret signs beside it until {when(until)}" if until else "the old secret no longer signs"
    emit(args, {**endpoint.as_dict(), "secret": secret}, f"secret: {secret}\n(shown once; {old})")
    return 0


async def _set_enabled(gateway: Gateway, args: argparse.Namespace, enabled: bool) -> int:
    endpoint = await _webhooks(gateway).endpoints.set_enabled(
        args.endpoint_id, enabled, by=operator_of(args).subject
    )
    if endpoint is None:
        return not_found(KIND, args.endpoint_id)
    emit(args, endpoint.as_dict(), f"{'enabled' if enabled else 'disabled'} {KIND} {endpoint.id}")
    return 0


async def _enable(gateway: Gateway, args: argparse.Namespace) -> int:
    return await _set_enabled(gateway, args, True)


async def _disable(gateway: Gateway, args: argparse.Namespace) -> int:
    return await _set_enabled(gateway, args, False)


HANDLERS: dict[tuple[str, str], Handler] = {
    ("webhooks", "add"): _add,
    ("webhooks", "list"): _list,
    ("webhooks", "show"): _show,
    ("webhooks", "remove"): _remove,
    ("webhooks", "deliveries"): _deliveries,
    ("webhooks", "rotate-secret"): _rotate_secret,
    ("webhooks", "enable"): _enable,
    ("webhooks", "disable"): _disable,
}
