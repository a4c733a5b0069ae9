"""Characters a tool definition may not hide text with, and the text without them (TS-3, TS-4).

A tool's description is read by the model, and shown (if at all) to a person by a renderer that
draws nothing for some characters. Text the person cannot see but the model reads is the heart of
tool poisoning: Unicode tag characters (U+E0000-E007F) spell ASCII invisibly, bidirectional
controls show text in another order than the model reads it, and runs of zero-width characters or
variation selectors can encode bytes. These classes are removed from every string of a definition:

* control characters (``Cc``) other than tab, line feed and carriage return;
* unpaired surrogates (``Cs``: ``json.loads`` accepts ``"\\ud800"``, UTF-8 cannot encode it);
* bidirectional controls, zero-width characters, Unicode tag characters, variation selectors;
* every other format character (``Cf``: soft hyphen, interlinear annotations, ...).

Removing a zero-width joiner changes how a family emoji or a Persian word is drawn, not what it
says; nothing a tool description needs is lost. Classification asks :mod:`unicodedata` of the
running Python, so characters added in later Unicode versions are covered when Python learns them.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

KEPT_CONTROLS = frozenset("\t\n\r")
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
ZERO_WIDTH = frozenset(
    "\u00ad\u034f\u115f\u1160\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\u3164\ufeff\uffa0"
)
"""Zero-width and blank-looking characters: spaces and joiners of no width, the soft hyphen, the
combining grapheme joiner, invisible operators and the Hangul fillers (letters that draw nothing)."""
TAG = "Unicode tag character"
BIDI = "bidirectional control"
ZERO = "zero-width character"
VARIATION = "variation selector"
CONTROL = "control character"
SURROGATE = "unpaired surrogate"
FORMAT = "format character"
HIDING_RUN = 8
"""From this many zero-width characters or variation selectors in one string, they may be encoding
text (a bit or a byte each) rather than joining an emoji or a Persian word: the string is flagged."""


def kind(character: str) -> str | None:
    """The class of ``character`` when it is removed from definitions, else None.

    >>> kind("\\u200b"), kind("\\U000e0041"), kind("\\n"), kind("a")
    ('zero-width character', 'Unicode tag character', None, None)
    """
    code = ord(character)
    if 0xE0000 <= code <= 0xE007F:
        return TAG
    if character in BIDI_CONTROLS:
        return BIDI
    if character in ZERO_WIDTH:
        return ZERO
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:
        return VARIATION
    if character in KEPT_CONTROLS:
        return None
    category = unicodedata.category(character)
    if category == "Cc":
        return CONTROL
    if category == "Cs":
        return SURROGATE
    if category == "Cf":
        return FORMAT
    return None


def is_clean(text: str) -> bool:
    """Whether ``text`` holds no character :func:`kind` removes (names and keys must be clean)."""
    return not any(kind(character) for character in set(text))


@dataclass(frozen=True)
class Cleaned:
    """One string without its invisible characters, and what was taken out of it."""

    text: str
    counts: tuple[tuple[str, int], ...]
    """How many characters of each class were removed, classes in a fixed order."""
    hidden: str
    """The ASCII that Unicode tag characters spelled (tag U+E0041 is ``A``), printable only."""

    def count(self, character_class: str) -> int:
        return dict(self.counts).get(character_class, 0)


_SPELLING_TAGS = re.compile("[\U000e0020-\U000e007e]")
_ORDER = (TAG, BIDI, ZERO, VARIATION, CONTROL, SURROGATE, FORMAT)


def clean(text: str) -> Cleaned:
    """``text`` without the characters :func:`kind` classifies, the rest unchanged.

    Linear: each distinct character is classified once, then ``str.translate`` removes them.

    >>> cleaned = clean("get\\u200b forecast\\U000e0068\\U000e0069")
    >>> cleaned.text, cleaned.counts, cleaned.hidden
    ('get forecast', (('Unicode tag character', 2), ('zero-width character', 1)), 'hi')
    """
    classes = {character: kind(character) for character in set(text)}
    removed = {character: found for character, found in classes.items() if found}
    if not removed:
        return Cleaned(text, (), "")
    totals: Counter[str] = Counter()
    for character, found in removed.items():
        totals[found] += text.count(character)
    hidden = "".join(chr(ord(tag) - 0xE0000) for tag in _SPELLING_TAGS.findall(text)) if totals[TAG] else ""
    stripped = text.translate(dict.fromkeys(map(ord, removed)))
    counts = tuple((name, totals[name]) for name in _ORDER if totals[name])
    return Cleaned(stripped, counts, hidden)


def plural(count: int, noun: str) -> str:
    """``3 zero-width characters``, ``1 bidirectional control``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


__all__ = ["HIDING_RUN", "Cleaned", "clean", "is_clean", "kind", "plural"]
