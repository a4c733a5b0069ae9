"""``mcp-gateway audit tail|search|verify|export|exporters``: the security team's view of the trail.

The commands read the trail the server writes (``audit_store``, by default beside a SQLite store),
while it runs: ``tail`` shows the newest events (``--follow`` keeps printing them as they come),
``search`` the events matching every criterion given, ``export`` every event kept as JSON lines with
its place in the chain (the lines the ``jsonl`` exporter writes: for a SIEM, for checking
elsewhere; ``--after`` resumes from a sequence number), and ``verify`` recomputes the chain and
checks every checkpoint against the gateway's published keys (docs/audit.md); ``exporters`` says how
far each configured exporter delivered and where the (pruned) trail starts. Times are accepted as
seconds since the epoch, as ISO 8601 (``2026-05-01``, ``2026-05-01T08:00:00Z``; UTC unless an offset
is given), or as a length of time before now (``90s``, ``15m``, ``2h``, ``7d``).

Exit codes: 0 done (``verify``: the trail is as the gateway wrote it), 1 the trail or the store does
not answer, 2 bad arguments, 3 ``verify`` found the trail changed.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

import anyio

from gateway.audit.chain import StoredEvent
from gateway.audit.exporters.records import exported
from gateway.audit.search import Criteria, criteria, parse_time
from gateway.audit.store import AuditFilter
from gateway.audit.verify import verify_trail
from gateway.cli.output import Handler, add_json_flag, emit, table, when

if TYPE_CHECKING:
    from gateway.composition import Gateway

TRAIL_CHANGED = 3
FOLLOW_INTERVAL = 0.5
_PAGE = 1000


def add_parser(commands: Any) -> None:
    audit = commands.add_parser("audit", help="read, search, verify and export the audit trail")
    actions = audit.add_subparsers(dest="action", required=True)
    tail = actions.add_parser("tail", help="the newest events")
    tail.add_argument("-n", type=int, default=20, help="how many (default 20)")
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing new events (Ctrl-C stops)")
    search = actions.add_parser("search", help="the events matching every criterion given, oldest first")
    _add_time_flags(search)
    search.add_argument("--type", action="append", default=[], help="an event type (repeatable)")
    search.add_argument("--client", help="the client acting, or acted upon")
    search.add_argument("--subject", help="the person or subject acting, or acted upon")
    search.add_argument("--outcome", help="granted, refused, revoked, …")
    search.add_argument("--tool", help="an exposed tool name")
    search.add_argument("--after", type=int, default=0, help="only events after this sequence number")
    search.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    actions.add_parser("verify", help="recompute the chain and check every signed checkpoint")
    actions.add_parser("exporters", help="each configured exporter's position, and what retention may prune")
    export = actions.add_parser("export", help="every event as JSON lines, with its place in the chain")
    _add_time_flags(export, until=False)
    export.add_argument("--after", type=int, default=0, help="only events after this sequence number")
    export.add_argument("--format", choices=("jsonl",), required=True)
    add_json_flag(actions.choices[name] for name in ("tail", "search", "verify", "exporters"))


def _add_time_flags(parser: argparse.ArgumentParser, *, until: bool = True) -> None:
    parser.add_argument("--since", help="from this time on (epoch seconds, ISO 8601, or 15m/2h/7d ago)")
    if until:
        parser.add_argument("--until", help="before this time")


def _rows(events: list[StoredEvent]) -> str:
    rows = [_row(stored) for stored in events]
    headers = ("seq", "at", "type", "outcome", "client", "subject", "via", "details")
    return table(headers, rows, "no events")


def _row(stored: StoredEvent) -> tuple[object, ...]:
    try:
        event = stored.event()
    except (ValueError, KeyError, TypeError):
        return (stored.seq, "-", stored.index.type, "-", "-", "-", "-", "(not an event: run audit verify)")
    details = " ".join(f"{name}={_short(value)}" for name, value in event.fields.items())
    index = event.index()
    return (
        stored.seq,
        when(event.at),
        event.type,
        event.outcome,
        index.client_id,
        index.subject,
        event.actor.via,
        details[:100] + ("…" if len(details) > 100 else ""),
    )


def _short(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _json(events: list[StoredEvent]) -> list[dict[str, Any]]:
    return [stored.to_json() for stored in events]


async def _tail(gateway: Gateway, args: argparse.Namespace) -> int:
    store = gateway.audit_trail.store
    head = await store.head()
    events = await store.read(max(0, head.seq - args.n), args.n)
    if not args.follow:
        emit(args, _json(events), _rows(events))
        return 0
    after = events[-1].seq if events else head.seq
    _print_follow(args, events, header=True)
    while True:
        await anyio.sleep(FOLLOW_INTERVAL)
        while page := await store.read(after, _PAGE):
            _print_follow(args, page, header=False)
            after = page[-1].seq


def _print_follow(args: argparse.Namespace, events: list[StoredEvent], *, header: bool) -> None:
    """JSON lines with ``--json``; else table rows, the header once."""
    if args.json:
        for stored in events:
            print(json.dumps(stored.to_json()), flush=True)
        return
    if events:
        lines = _rows(events).splitlines()
        print("\n".join(lines if header else lines[1:]), flush=True)


async def _search(gateway: Gateway, args: argparse.Namespace) -> int:
    asked = Criteria(
        since=args.since or "",
        until=args.until or "",
        types=",".join(args.type),
        client_id=args.client or "",
        subject=args.subject or "",
        outcome=args.outcome or "",
        tool=args.tool or "",
    )
    found = criteria(asked, gateway.clock.now())
    events = await gateway.audit_trail.store.read(args.after, args.limit, found)
    text = _rows(events)
    if len(events) == args.limit:
        text += f"\n(more: --after {events[-1].seq})"
    emit(args, _json(events), text)
    return 0


async def _verify(gateway: Gateway, args: argparse.Namespace) -> int:
    published = (await gateway.keys.managers["gateway"].snapshot()).verification_keys
    result = await verify_trail(gateway.audit_trail.store, published, gateway.settings.server.issuer_id)
    lines = [f"{finding.kind}: {finding.detail}" for finding in result.findings]
    unsigned = result.events and result.head - result.signed_through
    summary = (
        (f"events through {result.pruned_through} were pruned; " if result.pruned_through else "")
        + f"{result.events} events, {result.checkpoints} checkpoints; "
        f"the checkpoints agree with the chain through event {result.signed_through}"
        + (f" ({unsigned} newer events chained, not signed yet)" if unsigned else "")
    )
    verdict = "the trail is as the gateway wrote it" if result.ok else "THE TRAIL WAS CHANGED"
    emit(args, result.to_json(), "\n".join([*lines, summary, verdict]))
    return 0 if result.ok else TRAIL_CHANGED


async def _export(gateway: Gateway, args: argparse.Namespace) -> int:
    store = gateway.audit_trail.store
    since = parse_time(args.since, gateway.clock.now()) if args.since else None
    after = args.after
    while page := await store.read(after, _PAGE, AuditFilter(since=since)):
        for stored in page:  # the lines the jsonl exporter writes (gateway.audit.exporters.records)
            print(exported(stored).line)
        after = page[-1].seq
    return 0


async def _exporters(gateway: Gateway, args: argparse.Namespace) -> int:
    store = gateway.audit_trail.store
    head, pruned = await store.head(), await store.pruned()
    positions = {e.name: await store.export_position(e.name) for e in gateway.audit_exporters}
    settings = gateway.settings.audit
    exporters = [
        {
            "name": name,
            "kind": settings.audit_export[name]["kind"],
            "delivered_through": seq,
            "behind": head.seq - seq,
        }
        for name, seq in positions.items()
    ]
    data = {
        "head": head.seq,
        "pruned_through": pruned.seq,
        "retention_days": settings.audit_retention_days,
        "exporters": exporters,
    }
    rows = [(e["name"], e["kind"], e["delivered_through"], e["behind"]) for e in exporters]
    keep = f"kept {settings.audit_retention_days} days" if settings.audit_retention_days else "kept forever"
    text = "\n".join(
        [
            table(("exporter", "kind", "delivered through", "behind"), rows, "no exporter is configured"),
            f"the trail holds events {pruned.seq + 1} to {head.seq}; events are {keep}",
        ]
    )
    emit(args, data, text)
    return 0


HANDLERS: dict[tuple[str, str], Handler] = {
    ("audit", "tail"): _tail,
    ("audit", "search"): _search,
    ("audit", "verify"): _verify,
    ("audit", "export"): _export,
    ("audit", "exporters"): _exporters,
}
