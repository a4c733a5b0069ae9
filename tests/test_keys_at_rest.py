"""Signing keys at rest and by purpose (rule book KE-1, KE-2).

KE-1: read access to the store is not enough to mint tokens: private keys are sealed under a
key-encryption key (KEK) kept outside it, bound to the record they were sealed as. KE-2: the keys
that sign tokens the gateway accepts never sign downstream tokens, and a token verifies only under
the key set its audience calls for. Unit tests on real stores (SQLite files, the memory store), the
CLI as a subprocess, and the gateway in process for the HTTP rules.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from gateway.app import create_app
from gateway.clock import FrozenClock
from gateway.composition import build_gateway
from gateway.config import settings_from
from gateway.key_encryption import KeyEncryptionError, LocalKeyProtector, new_kek_text, protector_for
from gateway.keys import COLLECTIONS, KeyManager, KeyPurpose, KeyRing
from gateway.oauth.clients.model import Client
from gateway.store import Store, StoreUnavailable
from gateway.store.factory import open_store
from gateway.store.memory import MemoryStore
from gateway.upstream.asgi_transport import AsgiTransport, lifespan
from tests.support.agents import AgentKey, agent_token, assertion_form
from tests.support.cli import Cli
from tests.support.code_flow import WEATHER, introspect, settings_for
from tests.support.gateway_tokens import sign
from tests.support.inprocess import InProcessGateway
from tests.support.mcp_requests import modern

pytestmark = pytest.mark.anyio

KEK_A = LocalKeyProtector(b"A" * 32)
KEK_B = LocalKeyProtector(b"B" * 32)
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"


def manager(store: Store, protector: LocalKeyProtector, purpose: KeyPurpose = "gateway") -> KeyManager:
    return KeyManager(store, FrozenClock(time.time()), 600, 360, protector=protector, purpose=purpose)


# == KE-1: sealed at rest ===========================================================================


async def test_ke1_the_store_never_holds_a_private_key_in_the_clear(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite3"
    store = open_store(f"sqlite:///{path}")
    try:
        for purpose in ("gateway", "downstream"):
            keys = manager(store, KEK_A, purpose)
            await keys.ensure_key()
            await keys.rotate()
        records = [
            json.loads(value)
            for collection in COLLECTIONS.values()
            for value in (await store.list_records(collection)).values()
        ]
    finally:
        await store.close()
    assert len(records) == 4
    assert all(set(record) == {"sealed_private_key", "created_at", "activates_at"} for record in records)
    files = list(tmp_path.iterdir())  # noqa: ASYNC240 - the database, -wal and -shm, read once
    raw = b"".join(file.read_bytes() for file in files)
    assert b"PRIVATE KEY" not in raw and b"private_pem" not in raw


async def test_ke1_a_sealed_key_does_not_open_under_another_kek() -> None:
    store = MemoryStore()
    await manager(store, KEK_A).ensure_key()
    with pytest.raises(KeyEncryptionError, match=f"sealed under key-encryption key {KEK_A.kek_id}"):
        await manager(store, KEK_B).snapshot()


async def test_ke1_a_sealed_key_copied_under_another_name_does_not_open() -> None:
    """A downstream key planted in the gateway's own collection (by anyone who can write to the
    store) does not open there: the record's name is sealed with the key."""
    store = MemoryStore()
    await manager(store, KEK_A, "downstream").ensure_key()
    ((kid, value),) = (await store.list_records(COLLECTIONS["downstream"])).items()
    await store.put_record(COLLECTIONS["gateway"], kid, value)
    with pytest.raises(KeyEncryptionError, match="does not open"):
        await manager(store, KEK_A, "gateway").snapshot()


async def test_ke1_a_key_left_in_the_clear_by_an_older_version_is_sealed_when_first_read() -> None:
    store = MemoryStore()
    keys = manager(store, KEK_A)
    await keys.ensure_key()
    ((kid, value),) = (await store.list_records(COLLECTIONS["gateway"])).items()
    snapshot = await keys.snapshot()
    pem = snapshot.signing_key.private_bytes(  # what an older version wrote: the PEM itself
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    record = json.loads(value)
    legacy = {"private_pem": pem, "created_at": record["created_at"], "activates_at": record["activates_at"]}
    await store.put_record(COLLECTIONS["gateway"], kid, json.dumps(legacy))

    assert (await keys.snapshot()).signing_kid == kid
    assert "sealed_private_key" in json.loads(await store.get_record(COLLECTIONS["gateway"], kid) or "{}")


async def test_ke1_a_ring_whose_keys_do_not_open_fails_closed_as_unavailable() -> None:
    """A replica given the wrong KEK answers 503 (StoreUnavailable), never signs, never errors."""
    store = MemoryStore()
    await manager(store, KEK_A).ensure_key()
    clock = FrozenClock(time.time())
    ring = KeyRing(manager(store, KEK_B), clock, refresh_interval=15)
    with pytest.raises(StoreUnavailable):
        await ring.current()


async def test_ke1_the_default_kek_is_made_once_beside_the_sqlite_store_owner_only(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'var' / 'gw.sqlite3'}"
    previous = os.umask(0o022)
    try:
        first = protector_for("", store_url, {})
        second = protector_for("", store_url, {})  # a second process (the CLI) finds the same one
    finally:
        os.umask(previous)
    kek_file = tmp_path / "var" / "gw.kek"
    assert kek_file.stat().st_mode & 0o777 == 0o600
    assert first.kek_id == second.kek_id
    assert [p.name for p in kek_file.parent.iterdir()] == ["gw.kek"], "no draft left behind"


@pytest.mark.parametrize(
    ("source", "environ", "fragment"),
    [
        ("", {}, "a shared store needs the key-encryption key"),
        ("env:NOPE", {}, "NOPE, an unset environment variable"),
        ("env:SHORT", {"SHORT": "c2hvcnQ"}, "must hold 32 random bytes"),
        ("env:BAD", {"BAD": "not base64!"}, "is not base64url"),
        ("kms:whatever", {}, "must be file:<path> or env:<NAME>"),
        ("file:/nonexistent/kek", {}, "does not exist"),
    ],
)
def test_ke1_a_missing_or_malformed_kek_is_refused_at_start(
    source: str, environ: dict[str, str], fragment: str
) -> None:
    with pytest.raises(KeyEncryptionError, match=fragment):
        protector_for(source, "redis://127.0.0.1:1/0", environ)


def test_ke1_a_kek_file_others_can_read_is_refused(tmp_path: Path) -> None:
    kek_file = tmp_path / "kek"
    kek_file.write_text(new_kek_text())
    kek_file.chmod(0o644)
    with pytest.raises(KeyEncryptionError, match="must be owner-only"):
        protector_for(f"file:{kek_file}", "redis://127.0.0.1:1/0", {})
    kek_file.chmod(0o600)
    assert protector_for(f"file:{kek_file}", "redis://127.0.0.1:1/0", {}).kek_id


def test_ke1_the_cli_on_a_store_sealed_under_another_kek_says_so_in_one_line(tmp_path: Path) -> None:
    cli = Cli.on_sqlite(tmp_path)
    assert cli.run("keys", "list").returncode == 0  # made the keys, sealed under the default KEK
    other = tmp_path / "other.kek"
    other.write_text(new_kek_text())
    other.chmod(0o600)
    result = cli.run("keys", "list", extra_env={"MCP_GATEWAY_KEY_ENCRYPTION_KEY": f"file:{other}"})
    assert result.returncode == 2
    assert "sealed under key-encryption key" in result.stderr and len(result.stderr.splitlines()) == 1


# == KE-2: one key set per purpose ==================================================================


def unverified(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


@pytest.fixture
async def gateway() -> AsyncIterator[InProcessGateway]:
    settings = settings_for("memory://")(8000)
    wired = build_gateway(settings, MemoryStore(), transport=AsgiTransport({}))
    in_process = InProcessGateway(settings, wired, create_app(wired))
    async with lifespan(in_process.app):
        yield in_process


async def robot(gateway: InProcessGateway) -> AgentKey:
    key = AgentKey()
    await gateway.gateway.clients.add(
        Client(
            client_id="robot",
            auth_method="private_key_jwt",
            scopes=("tools:read",),
            audiences=(gateway.settings.mcp.resource, WEATHER),
            grant_types=("client_credentials", EXCHANGE),
            jwks=key.jwks,
        )
    )
    return key


async def test_ke2_agent_tokens_and_downstream_tokens_are_signed_by_keys_of_different_purposes(
    gateway: InProcessGateway,
) -> None:
    key = await robot(gateway)
    async with gateway.client() as http:
        own = await agent_token(http, gateway, key, "robot")
        form = assertion_form(
            key.assertion("robot", gateway.issuer),
            grant_type=EXCHANGE,
            subject_token=own,
            subject_token_type=ACCESS_TOKEN,
            audience=WEATHER,
        )
        exchanged = (await http.post("/token", data=form)).json()["access_token"]
        published = {k["kid"] for k in (await http.get("/jwks.json")).json()["keys"]}
    kids = {
        purpose: set((await ring.current()).verification_keys)
        for purpose, ring in gateway.gateway.keys.rings.items()
    }
    assert jwt.get_unverified_header(own)["kid"] in kids["gateway"]
    assert jwt.get_unverified_header(exchanged)["kid"] in kids["downstream"]
    assert not kids["gateway"] & kids["downstream"]
    assert published == kids["gateway"] | kids["downstream"], "resource servers verify both"


async def test_ke2_a_token_signed_by_a_downstream_key_is_refused_wherever_the_gateway_accepts_tokens(
    gateway: InProcessGateway,
) -> None:
    """A leaked downstream key forges a token with every claim right for the gateway's /mcp."""
    key = await robot(gateway)
    async with gateway.client() as http:
        genuine = jwt.decode(
            await agent_token(http, gateway, key, "robot"), options={"verify_signature": False}
        )
        forged = await sign(gateway.gateway, genuine | {"jti": "forged"}, "at+jwt", purpose="downstream")

        assert (await modern(http, gateway.settings.mcp.resource, forged, "tools/list")).status_code == 401
        form = assertion_form(
            key.assertion("robot", gateway.issuer),
            grant_type=EXCHANGE,
            subject_token=forged,
            subject_token_type=ACCESS_TOKEN,
            audience=WEATHER,
        )
        assert (await http.post("/token", data=form)).json()["error"] == "invalid_request"
        assert await introspect(http, forged) == {"active": False}


async def test_ke2_a_downstream_token_signed_by_a_gateway_key_is_not_active_either(
    gateway: InProcessGateway,
) -> None:
    """The rule runs both ways: a token for an upstream verifies only under the downstream keys."""
    key = await robot(gateway)
    async with gateway.client() as http:
        genuine = jwt.decode(
            await agent_token(http, gateway, key, "robot"), options={"verify_signature": False}
        )
        misplaced = await sign(gateway.gateway, genuine | {"aud": WEATHER, "jti": "misplaced"}, "at+jwt")
        assert await introspect(http, misplaced) == {"active": False}


def test_ke1_a_gateway_on_redis_without_a_kek_does_not_start() -> None:
    settings = settings_from(port=8000, store="redis://127.0.0.1:1/0")
    with pytest.raises(KeyEncryptionError, match="a shared store needs"):
        build_gateway(settings, MemoryStore())
