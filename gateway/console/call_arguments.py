"""A held call's arguments as an approver reads them: the JSON the upstream will receive, laid out
one member a line, with nothing in it that could hide or disguise text.

The arguments are JSON an agent chose, so they are shown, never interpreted: the caller escapes the
text for HTML and puts it in a ``<pre>``. Before that, every character that is invisible or changes
how the text around it is drawn (controls, format characters such as the bidirectional overrides
and zero-width joiners, line and paragraph separators, private-use, unassigned and lone surrogate
code points) is written as its JSON escape ``\\uXXXX``: the same JSON value, spelled so that what
the approver sees is what is sent. Those characters only occur inside JSON strings, where the
escape means the same thing.

Laying the JSON out can make it much longer than the stored form (every level of nesting indents
each line), so the layout stops at :data:`MAX_LAID_OUT` characters; past that, the stored one-line
canonical form (at most 64 KiB) is shown whole instead. The arguments are never cut short.

    >>> readable('{"path":"/tmp/a\\u202e.txt"}')
    ('{\\n  "path": "/tmp/a\\\\u202e.txt"\\n}', True)
"""

from __future__ import annotations

import json
import unicodedata

MAX_LAID_OUT = 256 * 1024
"""Characters of laid-out arguments a page shows; longer ones are shown in their stored form."""
DISGUISING = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})
"""Unicode general categories whose characters are written as escapes."""


def readable(arguments: str) -> tuple[str, bool]:
    """``arguments`` (canonical JSON, as held) as the page shows them, and whether that is the
    laid-out form (False: the stored one-line form, as laying it out went past the bound)."""
    laid_out = _laid_out(json.loads(arguments))
    if laid_out is None:
        return undisguised(arguments), False
    return undisguised(laid_out), True


def undisguised(text: str) -> str:
    """``text`` with every character of :data:`DISGUISING` written as a JSON escape; the line breaks
    of the layout (outside strings: inside one, JSON has escaped them already) stay."""
    return "".join(_escape(c) if c != "\n" and unicodedata.category(c) in DISGUISING else c for c in text)


def _laid_out(value: object) -> str | None:
    """``value`` as JSON, two spaces a level, keys in their stored (sorted) order; None once it
    would pass :data:`MAX_LAID_OUT` characters (the encoder is stopped there, so a deeply nested
    value costs no more than the bound)."""
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False, allow_nan=False)
    chunks: list[str] = []
    size = 0
    for chunk in encoder.iterencode(value):
        size += len(chunk)
        if size > MAX_LAID_OUT:
            return None
        chunks.append(chunk)
    return "".join(chunks)


def _escape(character: str) -> str:
    """The JSON escape of one character: a surrogate pair above the Basic Multilingual Plane."""
    code = ord(character)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
