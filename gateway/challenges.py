"""Bearer challenges: what a protected resource's ``WWW-Authenticate`` names and how it is spelled
(RFC 6750 §3, RFC 9728 §5.1; PR-2). :mod:`gateway.errors` puts them on the errors that need one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceChallenge:
    """What a protected resource's challenge names (RFC 9728 §5.1): where its metadata is, and
    the scopes to ask for."""

    resource_metadata: str
    scope: str = ""


def bearer_challenge(
    *, resource_metadata: str, scope: str = "", error: str | None = None, description: str = ""
) -> str:
    """``WWW-Authenticate: Bearer …`` (RFC 6750 §3, RFC 9728 §5.1; PR-2).

    No ``error`` when no token was sent; ``invalid_token`` for a bad one; ``insufficient_scope``
    with every scope the operation needs.
    """
    params = []
    if error:
        params.append(f'error="{error}"')
        if description:
            params.append(f'error_description="{_challenge_text(description)}"')
    params.append(f'resource_metadata="{resource_metadata}"')
    if scope:
        params.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(params)


def _challenge_text(text: str) -> str:
    """RFC 6750 §3: ``error_description`` holds only %x20-21 / %x23-5B / %x5D-7E. A description
    can quote a token's content (a duplicated member name): anything else becomes ``?``, so a
    crafted token can neither break the challenge's quoting nor make the header unencodable."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)
