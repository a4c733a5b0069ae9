"""JSON and YAML text read into plain JSON values, with bounds on size, nesting and node count.

Everything here comes from outside (a tool author's document, an upstream API's answer), so no
text may exhaust the gateway's memory, stack or patience (OA-3):

* the text is refused above a byte limit before it is parsed;
* Python's JSON parser recurses, so a text nested 100,000 levels deep raises ``RecursionError``
  (caught here), and one nested a few hundred levels deep parses but would make every later walk
  recurse as deep: anything nested deeper than the bound is refused;
* YAML aliases make one node appear many times (the "billion laughs" document is a few hundred
  bytes), and an alias inside its own anchor makes a cycle. The walk here counts every node each
  time it is reached, so both are refused by the node bound or the nesting bound without ever
  being expanded.

This is the same policy as ``gateway.upstream.answers`` (which ``tools_registry`` may not import):
a bound on nesting checked by an iterative walk, never by recursion. YAML is read by PyYAML's
``SafeLoader`` (C-accelerated when libyaml is present) with timestamps left as strings, and its
non-JSON values made JSON: integer keys (``200:`` in ``responses``) become strings, a value JSON
cannot hold (binary, a set) refuses the text.
"""

from __future__ import annotations

import json
import math
from typing import Any

import yaml

MAX_DEPTH = 64
"""The deepest nesting of arrays and objects accepted (GitHub's REST description: 21)."""
MAX_NODES = 4_000_000
"""Values (containers and scalars) in one text, aliases counted each time (GitHub's: 258,000)."""


class BoundedTextError(ValueError):
    """The text is not JSON (or YAML), or exceeds a bound; the message says which."""


def _yaml_loader() -> type[yaml.SafeLoader]:
    """A ``SafeLoader`` whose timestamps stay strings (JSON has no dates), built per call so that
    no loader class is shared and mutated at module level."""
    base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[valid-type,misc]
        yaml_implicit_resolvers = {
            first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
            for first, resolvers in base.yaml_implicit_resolvers.items()
        }

    return Loader


def load_json(raw: bytes | str, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads(raw)`` within the bounds; :class:`BoundedTextError` otherwise."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise BoundedTextError(f"the text is {size} bytes, more than the {max_bytes} accepted")
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise BoundedTextError(f"JSON nested deeper than {max_depth} levels") from None
    except BoundedTextError:
        raise
    except (ValueError, UnicodeDecodeError):
        raise BoundedTextError("not JSON") from None
    check_bounds(value, max_depth=max_depth)  # JSON values are plain already: no rebuild
    return value


def load_json_or_yaml(raw: bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """A JSON text, or else a YAML one (YAML 1.2 is a superset of JSON, but JSON is read by the
    faster, stricter parser first), made plain and bounded."""
    if len(raw) > max_bytes:
        raise BoundedTextError(f"the document is {len(raw)} bytes, more than the {max_bytes} accepted")
    if raw.lstrip()[:1] in (b"{", b"["):
        return load_json(raw, max_bytes=max_bytes, max_depth=max_depth)
    try:
        value = yaml.load(raw, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise BoundedTextError(f"YAML nested deeper than {max_depth} levels") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BoundedTextError(f"neither JSON nor YAML: {str(exc)[:200]}") from None
    return plain(value, max_depth=max_depth)


def plain(value: Any, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> Any:
    """``value`` (as YAML gives it) checked against the bounds and rebuilt as plain JSON values
    (recursion is safe once the depth is known to be bounded)."""
    check_bounds(value, max_depth=max_depth, max_nodes=max_nodes)
    return _rebuilt(value)


def check_bounds(value: Any, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> None:
    """:class:`BoundedTextError` when ``value`` nests deeper than ``max_depth`` or holds more than
    ``max_nodes`` values; iterative, so a cycle or a deep nesting stops the walk at ``max_depth``."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    nodes = 0
    while pending:
        node, depth = pending.pop()
        nodes += 1
        if nodes > max_nodes:
            raise BoundedTextError(f"more than {max_nodes} values (YAML aliases count each time used)")
        if isinstance(node, dict | list):
            if depth > max_depth:
                raise BoundedTextError(f"nested deeper than {max_depth} levels")
            children = node.values() if isinstance(node, dict) else node
            pending.extend((child, depth + 1) for child in children)


def _refuse_constant(name: str) -> Any:
    raise BoundedTextError(f"a number that JSON cannot hold ({name})")


def _rebuilt(value: Any) -> Any:
    if isinstance(value, dict):
        return {_key(key): _rebuilt(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rebuilt(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise BoundedTextError("a number that JSON cannot hold (NaN or infinity)")
    if value is None or isinstance(value, str | int | float):
        return value
    raise BoundedTextError(f"a value that JSON cannot hold: {type(value).__name__}")


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    raise BoundedTextError(f"an object key that JSON cannot hold: {key!r:.60}")


__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "BoundedTextError",
    "check_bounds",
    "load_json",
    "load_json_or_yaml",
    "plain",
]
