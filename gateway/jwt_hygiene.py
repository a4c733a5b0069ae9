"""RFC 8725 checks every JWT passes before any signature work: size, shape, duplicate members.

pyjwt parses JSON with ``json.loads``, which keeps the last of two equal members; a token with
duplicate claims or header members is refused here instead, so two readers can never see two
different tokens in the same bytes. The token is parsed here once; the signature is then checked
over the exact signing input with pyjwt's algorithm object for the one key that may verify it
(:func:`verify_signature`), so the bytes that were checked are the bytes that were read.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from jwt.algorithms import Algorithm

from gateway.request_body import DuplicateMember, unique_members

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class MalformedJWT(ValueError):
    """The token is not a well-formed compact JWS; the message says why (never the token)."""


@dataclass(frozen=True)
class UnverifiedJWT:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def verify_signature(token: UnverifiedJWT, algorithm: Algorithm, key: Any) -> bool:
    """The signature check alone; ``algorithm`` must be the one algorithm ``key`` is bound to."""
    try:
        return bool(algorithm.verify(token.signing_input, key, token.signature))
    except (ValueError, TypeError):
        return False


def _bytes(data: str, what: str) -> bytes:
    """Strict base64url: the alphabet only (a lenient decoder would skip stray characters)."""
    if _BASE64URL.fullmatch(data) is None or len(data) % 4 == 1:
        raise MalformedJWT(f"{what} is not base64url")
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _segment(data: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_bytes(data, what), object_pairs_hook=unique_members)
    except DuplicateMember as exc:
        raise MalformedJWT(str(exc)) from None
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, MalformedJWT):
            raise
        raise MalformedJWT(f"{what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise MalformedJWT(f"{what} is not a JSON object")
    return value


def inspect_jwt(token: str, max_bytes: int) -> UnverifiedJWT:
    """Parse a compact JWS without trusting it. Signature verification is the caller's next step."""
    if len(token) > max_bytes:
        raise MalformedJWT(f"token longer than {max_bytes} bytes")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedJWT("not a compact JWS (three segments expected)")
    if not parts[2]:
        raise MalformedJWT("empty signature")
    header = _segment(parts[0], "header")
    if "crit" in header:
        raise MalformedJWT("unsupported critical header parameter")
    if not isinstance(header.get("alg"), str):
        raise MalformedJWT("header has no alg")
    claims = _segment(parts[1], "payload")
    signing_input = f"{parts[0]}.{parts[1]}".encode()
    return UnverifiedJWT(header, claims, signing_input, _bytes(parts[2], "signature"))
