"""Private signing keys sealed at rest with a key-encryption key (KEK).

Read access to the store must not be enough to mint tokens. Every private key the gateway keeps is
sealed with AES-256-GCM under a KEK that never enters the store; the record's name is the
authenticated data, so a sealed key only opens under the name it was sealed for (a downstream key
copied into the gateway's own collection does not open). Without the KEK a key can be neither read
nor planted.

The seam is :class:`KeyProtector`: :class:`LocalKeyProtector` holds the KEK in memory; a KMS
(where the KEK never leaves the service) implements the same two coroutines. Where the KEK comes
from (``key_encryption_key`` setting):

* ``file:<path>``: a file holding the base64url form of 32 random bytes, owner-only;
* ``env:<NAME>``: an environment variable holding the same;
* unset: beside a SQLite store's file (``var/mcp-gateway.kek`` for the default store), created on
  first use with owner-only permissions; a fresh KEK per process for the memory store; refused for
  a shared store (Redis, PostgreSQL), whose replicas must all hold the same KEK.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.store.factory import sqlite_path, store_kind

KEK_BYTES = 32
_SCHEME = "A256GCM"
_NONCE_BYTES = 12


class KeyEncryptionError(ValueError):
    """A KEK that cannot be loaded, or a sealed key that does not open; the message is for operators
    and never holds key material."""


class KeyProtector(Protocol):
    """Seals and opens private keys; ``context`` names what is sealed and must match to open."""

    @property
    def kek_id(self) -> str: ...

    async def seal(self, plaintext: bytes, context: str) -> str: ...

    async def unseal(self, sealed: str, context: str) -> bytes: ...


class LocalKeyProtector:
    """AES-256-GCM under a KEK held in this process. Sealed form:
    ``A256GCM.<kek id>.<nonce>.<ciphertext and tag>`` (base64url), the context as associated data."""

    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEK_BYTES:
            raise KeyEncryptionError(f"a key-encryption key is {KEK_BYTES} bytes, got {len(kek)}")
        self._aead = AESGCM(kek)
        self._kek_id = hashlib.sha256(b"mcp-gateway kek id\x00" + kek).hexdigest()[:16]

    @property
    def kek_id(self) -> str:
        """Names the KEK (a one-way digest) so that a store sealed under another one says so."""
        return self._kek_id

    async def seal(self, plaintext: bytes, context: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, context.encode())
        return ".".join((_SCHEME, self._kek_id, _b64(nonce), _b64(sealed)))

    async def unseal(self, sealed: str, context: str) -> bytes:
        parts = sealed.split(".")
        if len(parts) != 4 or parts[0] != _SCHEME:
            raise KeyEncryptionError(f"{context}: not a sealed key")
        if parts[1] != self._kek_id:
            raise KeyEncryptionError(
                f"{context} is sealed under key-encryption key {parts[1]}; this gateway holds {self._kek_id}"
            )
        try:
            return self._aead.decrypt(_unb64(parts[2]), _unb64(parts[3]), context.encode())
        except (InvalidTag, ValueError):
            raise KeyEncryptionError(f"{context} does not open: altered, or sealed as another") from None


def protector_for(source: str, store_url: str, environ: Mapping[str, str]) -> LocalKeyProtector:
    """The KEK ``source`` names (``file:<path>``, ``env:<NAME>``), or the default for the store."""
    if source:
        return LocalKeyProtector(kek_from_source(source, environ))
    kind = store_kind(store_url)
    if kind == "sqlite":
        beside_the_database = Path(sqlite_path(store_url)).with_suffix(".kek")
        return LocalKeyProtector(kek_file_created_if_missing(beside_the_database))
    if kind == "memory":
        return LocalKeyProtector(secrets.token_bytes(KEK_BYTES))  # the keys live no longer either
    raise KeyEncryptionError(
        "a shared store needs the key-encryption key every replica holds: set key_encryption_key "
        "(MCP_GATEWAY_KEY_ENCRYPTION_KEY) to file:<path> or env:<NAME>"
    )


def new_kek_text() -> str:
    """A new KEK as its files and environment variables hold it."""
    return _b64(secrets.token_bytes(KEK_BYTES))


def kek_from_text(text: str, where: str) -> bytes:
    try:
        kek = _unb64(text.strip())
    except ValueError:
        raise KeyEncryptionError(f"{where} is not base64url") from None
    if len(kek) != KEK_BYTES:
        raise KeyEncryptionError(f"{where} must hold {KEK_BYTES} random bytes (base64url), got {len(kek)}")
    return kek


def kek_from_source(source: str, environ: Mapping[str, str]) -> bytes:
    """The KEK that ``file:<path>`` or ``env:<NAME>`` names."""
    kind, _, name = source.partition(":")
    if kind == "env" and name:
        if name not in environ:
            raise KeyEncryptionError(f"key_encryption_key names {name}, an unset environment variable")
        return kek_from_text(environ[name], f"the environment variable {name}")
    if kind == "file" and name:
        return read_kek_file(Path(name))
    raise KeyEncryptionError("key_encryption_key must be file:<path> or env:<NAME>")


def read_kek_file(path: Path) -> bytes:
    try:
        if path.stat().st_mode & 0o077:
            raise KeyEncryptionError(f"the key-encryption key file {path} must be owner-only (chmod 600)")
        return kek_from_text(path.read_text(encoding="ascii"), f"the key-encryption key file {path}")
    except FileNotFoundError:
        raise KeyEncryptionError(f"the key-encryption key file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyEncryptionError(f"the key-encryption key file {path} cannot be read: {exc}") from None


def kek_file_created_if_missing(path: Path) -> bytes:
    """The KEK in ``path``, created there owner-only on first use. Written whole under a temporary
    name, then linked into place: of two processes starting at once, one links and both read it."""
    if path.exists():
        return read_kek_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(new_kek_text() + "\n")
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(draft, path)
    finally:
        draft.unlink()
    return read_kek_file(path)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or any(c not in _B64_ALPHABET for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
