"""The gateway's signing keys: thumbprint ``kid`` (RFC 7638), the rotation life cycle, restarts,
owner-only storage of private keys, and ``keys list`` / ``keys rotate`` in the CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from gateway.clock import FrozenClock
from gateway.key_encryption import LocalKeyProtector, protector_for
from gateway.keys import ALGORITHM, KeyManager, KeyRing, thumbprint
from gateway.oauth.tokens.access_tokens import AccessTokenIssuer, AccessTokenVerifier, InvalidToken
from gateway.signing_keys import SigningKeys, signing_keys
from gateway.store import Store
from gateway.store.factory import open_store
from gateway.store.memory import MemoryStore
from tests.support.cli import Cli

T0 = 1_700_000_000.0
LEAD = 600.0
RETIRE_AFTER = 360.0
ISSUER = "https://gw.example"
AUDIENCE = "https://gw.example/mcp"
PUBLIC_MEMBERS = {"kty", "crv", "x", "y", "kid", "use", "alg"}
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
PROTECTOR = LocalKeyProtector(b"a key-encryption key for tests!!")


# --- RFC 7638 thumbprints --------------------------------------------------------------------------

_REQUIRED = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}


def independent_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 §3: SHA-256 over the required members, sorted, no whitespace, base64url."""
    members = {name: jwk[name] for name in _REQUIRED[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


RFC7638_RSA = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWK"
        "RXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMic"
        "AtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3"
        "XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_RSA_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
RFC8037_ED25519 = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
RFC8037_ED25519_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_the_independent_computation_reproduces_the_rfc_vectors() -> None:
    """Pins the reference used below against RFC 7638 §3.1 (RSA) and RFC 8037 A.3 (Ed25519)."""
    assert independent_thumbprint(RFC7638_RSA) == RFC7638_RSA_THUMBPRINT
    assert independent_thumbprint(RFC8037_ED25519) == RFC8037_ED25519_THUMBPRINT


def _ec_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return jwk


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1()])
def test_the_gateway_thumbprint_of_an_ec_key_matches_rfc7638(curve: ec.EllipticCurve) -> None:
    # gateway.keys.thumbprint handles EC keys only (the gateway's keys are P-256).
    for _ in range(5):
        jwk = _ec_jwk(ec.generate_private_key(curve))
        expected = independent_thumbprint(jwk)
        assert thumbprint(jwk) == expected
        # Optional members never change the thumbprint.
        assert thumbprint({**jwk, "kid": "x", "alg": "ES256", "use": "sig"}) == expected


def test_a_fixed_ec_key_has_a_fixed_thumbprint() -> None:
    # RFC 7517 A.1's P-256 example key; the expected value is the independent computation's.
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
    }
    assert independent_thumbprint(jwk) == "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s"
    assert thumbprint(jwk) == "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s"


# --- the rotation life cycle (FrozenClock, MemoryStore) ------------------------------------------


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def manager(clock: FrozenClock) -> KeyManager:
    return KeyManager(MemoryStore(), clock, publish_lead=LEAD, retire_after=RETIRE_AFTER, protector=PROTECTOR)


async def states(manager: KeyManager) -> dict[str, str]:
    return {info.kid: info.state for info in await manager.list_keys()}


async def published(manager: KeyManager) -> list[str]:
    return [key["kid"] for key in (await manager.snapshot()).jwks["keys"]]


def assert_public_only(jwks: Mapping[str, Any]) -> None:
    for key in jwks["keys"]:
        assert set(key) <= PUBLIC_MEMBERS, key
        assert not PRIVATE_MEMBERS & set(key), key
        assert key["alg"] == ALGORITHM and key["use"] == "sig"


@pytest.mark.anyio
async def test_the_first_ensure_key_makes_one_active_key(manager: KeyManager) -> None:
    assert await manager.list_keys() == []
    await manager.ensure_key()
    await manager.ensure_key()  # idempotent
    infos = await manager.list_keys()
    assert len(infos) == 1
    assert infos[0].state == "active"
    assert infos[0].activates_at == T0
    snapshot = await manager.snapshot()
    assert snapshot.signing_kid == infos[0].kid
    assert await published(manager) == [infos[0].kid]


@pytest.mark.anyio
async def test_a_rotated_key_is_published_at_once_but_signs_only_after_the_lead(
    manager: KeyManager, clock: FrozenClock
) -> None:
    await manager.ensure_key()
    (old,) = await states(manager)
    new_info = await manager.rotate()
    new = new_info.kid
    assert new != old
    assert new_info.state == "next"
    assert new_info.activates_at == T0 + LEAD

    # Published at once, so verifiers can fetch it before it signs anything...
    snapshot = await manager.snapshot()
    assert set(await published(manager)) == {old, new}
    assert snapshot.signing_kid == old
    assert await states(manager) == {old: "active", new: "next"}

    # ...and the old key keeps signing for the whole lead.
    clock.advance(LEAD - 1)
    assert (await manager.snapshot()).signing_kid == old
    assert await states(manager) == {old: "active", new: "next"}

    # Once the lead has passed, the new key signs; the old one retires but stays published.
    clock.advance(1)
    assert (await manager.snapshot()).signing_kid == new
    assert await states(manager) == {old: "retiring", new: "active"}
    assert set(await published(manager)) == {old, new}

    # retire_after seconds later the old key is expired and no longer published...
    clock.advance(RETIRE_AFTER - 1)
    assert await states(manager) == {old: "retiring", new: "active"}
    assert set(await published(manager)) == {old, new}
    clock.advance(1)
    assert await states(manager) == {old: "expired", new: "active"}
    assert await published(manager) == [new]
    assert (await manager.snapshot()).verification_keys.keys() == {new}

    # ...and pruned from the store at the next rotation.
    newest = (await manager.rotate()).kid
    assert await states(manager) == {new: "active", newest: "next"}


@pytest.mark.anyio
async def test_rotating_twice_in_a_row_queues_the_keys_in_order(
    manager: KeyManager, clock: FrozenClock
) -> None:
    await manager.ensure_key()
    (first,) = await states(manager)
    second = await manager.rotate()
    third = await manager.rotate()
    assert third.activates_at > second.activates_at
    clock.advance(third.activates_at - T0)
    assert (await manager.snapshot()).signing_kid == third.kid
    assert (await states(manager))[second.kid] == "retiring"
    assert first in await states(manager)


@pytest.mark.anyio
async def test_every_kid_is_the_thumbprint_of_its_public_jwk(manager: KeyManager) -> None:
    await manager.ensure_key()
    await manager.rotate()
    jwks = (await manager.snapshot()).jwks
    assert len(jwks["keys"]) == 2
    for key in jwks["keys"]:
        assert key["kty"] == "EC" and key["crv"] == "P-256"
        assert key["kid"] == independent_thumbprint(key)
        assert key["kid"] == thumbprint(key)


@pytest.mark.anyio
async def test_the_jwks_never_holds_private_members(manager: KeyManager, clock: FrozenClock) -> None:
    await manager.ensure_key()
    assert_public_only((await manager.snapshot()).jwks)
    await manager.rotate()
    assert_public_only((await manager.snapshot()).jwks)
    clock.advance(LEAD)
    assert_public_only((await manager.snapshot()).jwks)
    serialized = json.dumps((await manager.snapshot()).jwks)
    assert '"d"' not in serialized


@pytest.mark.anyio
async def test_the_keyring_serves_its_snapshot_until_the_refresh_interval(
    manager: KeyManager, clock: FrozenClock
) -> None:
    ring = KeyRing(manager, clock, refresh_interval=15)
    await manager.ensure_key()
    assert len((await ring.current()).verification_keys) == 1
    new = await manager.rotate()
    assert new.kid not in (await ring.current()).verification_keys  # cached
    clock.advance(15)
    assert new.kid in (await ring.current()).verification_keys


# --- restarts and storage on SQLite ----------------------------------------------------------------


def sqlite_parts(issuer_clock: FrozenClock, path: Path) -> tuple[Store, KeyManager, SigningKeys]:
    store = open_store(f"sqlite:///{path}")
    keys = signing_keys(
        store,
        issuer_clock,
        PROTECTOR,
        own_audiences=(AUDIENCE,),
        publish_lead=60,
        retire_after=RETIRE_AFTER,
        refresh_interval=15,
    )
    return store, keys.managers["gateway"], keys


@pytest.mark.anyio
async def test_tokens_signed_before_a_restart_verify_after_it(tmp_path: Path, clock: FrozenClock) -> None:
    path = tmp_path / "gw.sqlite3"
    store, manager, keys = sqlite_parts(clock, path)
    await manager.ensure_key()
    issuer = AccessTokenIssuer(keys, ISSUER, clock)
    before = await issuer.issue(subject="a", client_id="a", audience=AUDIENCE, scopes=("x",), lifetime=300)
    await manager.rotate()
    await store.close()

    clock.advance(60)  # the rotated key signs now; the first one is retiring
    store, manager, keys = sqlite_parts(clock, path)
    verifier = AccessTokenVerifier(keys, ("gateway",), ISSUER, clock)
    claims = await verifier.verify(before.token, audience=AUDIENCE)
    assert claims.jti == before.claims["jti"]
    after = await AccessTokenIssuer(keys, ISSUER, clock).issue(
        subject="a", client_id="a", audience=AUDIENCE, scopes=("x",), lifetime=300
    )
    assert jwt.get_unverified_header(after.token)["kid"] != jwt.get_unverified_header(before.token)["kid"]
    await verifier.verify(after.token, audience=AUDIENCE)
    await store.close()

    # A third process that never saw either token verifies both, too.
    store, _manager, keys = sqlite_parts(clock, path)
    verifier = AccessTokenVerifier(keys, ("gateway",), ISSUER, clock)
    await verifier.verify(before.token, audience=AUDIENCE)
    await verifier.verify(after.token, audience=AUDIENCE)
    await store.close()


@pytest.mark.anyio
async def test_a_token_from_a_key_of_another_store_is_refused(tmp_path: Path, clock: FrozenClock) -> None:
    store_a, manager_a, keys_a = sqlite_parts(clock, tmp_path / "a.sqlite3")
    store_b, manager_b, keys_b = sqlite_parts(clock, tmp_path / "b.sqlite3")
    await manager_a.ensure_key()
    await manager_b.ensure_key()
    token = await AccessTokenIssuer(keys_a, ISSUER, clock).issue(
        subject="a", client_id="a", audience=AUDIENCE, scopes=(), lifetime=300
    )
    with pytest.raises(InvalidToken):
        verifier = AccessTokenVerifier(keys_b, ("gateway",), ISSUER, clock)
        await verifier.verify(token.token, audience=AUDIENCE)
    await store_a.close()
    await store_b.close()


@pytest.fixture
def umask_022() -> Iterator[None]:
    """A usual umask, which would leave a file made by sqlite3 itself group/world readable."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.anyio
async def test_the_sqlite_file_with_the_private_keys_is_owner_only(
    tmp_path: Path, clock: FrozenClock, umask_022: None
) -> None:
    path = tmp_path / "new-dir" / "gw.sqlite3"
    store, manager, _keys = sqlite_parts(clock, path)
    await manager.ensure_key()
    await manager.rotate()
    files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    assert path in files
    for file in files:  # the main file and SQLite's -wal / -shm companions
        assert file.stat().st_mode & 0o077 == 0, (file, oct(file.stat().st_mode))
    assert path.parent.stat().st_mode & 0o077 == 0
    raw = b"".join(f.read_bytes() for f in files)
    assert b"sealed_private_key" in raw  # it really is the file that holds them, sealed
    await store.close()


# --- the CLI: keys list / keys rotate on a SQLite store --------------------------------------------


def cli_json(tmp_path: Path, *args: str, **env_extra: str) -> Any:
    result = Cli.on_sqlite(tmp_path).run(*args, "--json", extra_env=env_extra)
    assert result.returncode == 0, result.stderr
    assert "PRIVATE" not in result.stdout and "private_pem" not in result.stdout
    return json.loads(result.stdout)


def test_cli_keys_list_and_rotate(tmp_path: Path, umask_022: None) -> None:
    listed = cli_json(tmp_path, "keys", "list")
    assert [k["purpose"] for k in listed] == ["gateway", "downstream"], "one key of each purpose"
    first = {k["purpose"]: k for k in listed}
    assert all(k["state"] == "active" and k["alg"] == "ES256" for k in listed)
    assert cli_json(tmp_path, "keys", "list") == listed  # listing does not make keys

    lead = {"MCP_GATEWAY_KEY_PUBLISH_LEAD": "120"}
    rotated = cli_json(tmp_path, "keys", "rotate", "--purpose", "downstream", **lead)
    assert rotated["state"] == "next" and rotated["purpose"] == "downstream"
    assert rotated["kid"] != first["downstream"]["kid"]
    assert rotated["activates_at"] - rotated["created_at"] in (119, 120, 121)

    states = {k["kid"]: k["state"] for k in cli_json(tmp_path, "keys", "list")}
    gateway, downstream = first["gateway"]["kid"], first["downstream"]["kid"]
    assert states == {gateway: "active", downstream: "active", rotated["kid"]: "next"}
    both = cli_json(tmp_path, "keys", "rotate")
    assert [k["purpose"] for k in both] == ["gateway", "downstream"]

    text = Cli.on_sqlite(tmp_path).run("keys", "list")
    assert text.returncode == 0 and rotated["kid"] in text.stdout and "next" in text.stdout

    db = tmp_path / "gw.sqlite3"
    assert db.stat().st_mode & 0o077 == 0


@pytest.mark.anyio
async def test_keys_rotated_by_the_cli_are_the_ones_the_server_publishes(tmp_path: Path) -> None:
    rotated = cli_json(tmp_path, "keys", "rotate")
    listed = cli_json(tmp_path, "keys", "list")
    store_url = f"sqlite:///{tmp_path}/gw.sqlite3"
    store = open_store(store_url)
    try:
        keys = signing_keys(
            store,
            FrozenClock(rotated[0]["created_at"] + 1),
            protector_for("", store_url, {}),  # the KEK the CLI made beside the database
            own_audiences=(AUDIENCE,),
            publish_lead=600,
            retire_after=360,
            refresh_interval=15,
        )
        jwks = await keys.jwks()
        assert {k["kid"] for k in jwks["keys"]} == {k["kid"] for k in listed}
        for key in jwks["keys"]:
            assert key["kid"] == independent_thumbprint(key)
        assert_public_only(jwks)
    finally:
        await store.close()


@pytest.mark.anyio
async def test_the_first_snapshot_of_an_empty_store_has_a_key_that_signs_at_once() -> None:
    """On the system clock, time moves between reading the clock and making the first key: the key
    made by the snapshot itself must count as active, or a fresh store could not sign."""
    from gateway.clock import SystemClock

    manager = KeyManager(
        MemoryStore(), SystemClock(), publish_lead=LEAD, retire_after=RETIRE_AFTER, protector=PROTECTOR
    )
    snapshot = await manager.snapshot()
    assert snapshot.signing_kid in snapshot.verification_keys
