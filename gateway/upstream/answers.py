"""What an upstream says, read with bounds: no answer may exhaust the gateway's stack or patience.

An upstream is possibly hostile. Its bytes are already capped by the transport
(:data:`~gateway.upstream.transport.MAX_BODY_BYTES`); here its JSON is parsed with a bound on
nesting. Python's parser recurses, so a body nested 100,000 levels deep raises ``RecursionError``
(caught here), and one nested a few hundred levels deep parses but would make every later walk
over it (validation, re-encoding for the agent) recurse as deep: anything nested deeper than
:data:`MAX_DEPTH` is refused as a whole. Real MCP answers stay far below it (a tool's input
schema is rarely ten levels deep).

The depth check costs nothing for ordinary answers: a text with fewer brackets than the bound
cannot be nested deeper than it, so only an answer with many brackets is walked (iteratively).
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64
"""The deepest nesting of arrays and objects accepted in anything an upstream sends."""


class AnswerRefused(ValueError):
    """The text is not JSON, or is nested deeper than the bound; the message says which."""


def load_bounded(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads(text)``, refusing what is not JSON or is nested deeper than ``max_depth``."""
    try:
        document = json.loads(text)
    except RecursionError:
        raise AnswerRefused(f"JSON nested deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise AnswerRefused("not JSON") from None
    raw = text.encode() if isinstance(text, str) else text
    if raw.count(b"[") + raw.count(b"{") > max_depth and depth_exceeds(document, max_depth):
        raise AnswerRefused(f"JSON nested deeper than {max_depth} levels")
    return document


def depth_exceeds(document: Any, max_depth: int) -> bool:
    """Whether arrays and objects in ``document`` nest deeper than ``max_depth`` (no recursion).

    >>> depth_exceeds({"a": [[1]]}, 3), depth_exceeds({"a": [[1]]}, 2)
    (False, True)
    """
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > max_depth:
                    return True
                pending.append((child, depth + 1))
    return False
