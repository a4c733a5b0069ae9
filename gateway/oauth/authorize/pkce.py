"""PKCE (RFC 7636), S256 only (CO-1, CO-2)."""

from __future__ import annotations

import re

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from gateway.constant_time import same

_UNRESERVED_43_128 = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def is_valid_challenge_or_verifier(value: str) -> bool:
    """43 to 128 characters of the unreserved set (RFC 7636 §4.1, §4.2)."""
    return _UNRESERVED_43_128.fullmatch(value) is not None


def verifier_matches(verifier: str, challenge: str) -> bool:
    if not is_valid_challenge_or_verifier(verifier):
        return False
    return same(str(create_s256_code_challenge(verifier)), challenge)
