"""Comparing secrets in constant time, whatever characters they hold.

``hmac.compare_digest`` raises ``TypeError`` for a ``str`` with a character outside ASCII, so a
crafted CSRF value or a client id with an accent would turn a refusal into a server error. Every
comparison of a secret or a principal taken from a request goes through :func:`same` instead.
"""

from __future__ import annotations

import hmac


def same(presented: str, expected: str) -> bool:
    """Whether the two strings are equal, in time independent of where they differ.

    >>> same("é", "é"), same("é", "e")
    (True, False)
    """
    return hmac.compare_digest(
        presented.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
