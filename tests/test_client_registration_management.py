"""Client registration management (RFC 7592): reading, updating and deleting a registration with
its registration access token, and an update validated like a registration (RG-1).

On :mod:`tests.support.client_registration`'s gateway (SQLite file).
"""

from __future__ import annotations

import httpx2
import pytest

from tests.support.client_registration import World, bearer, registered, relative
from tests.support.oauth_errors import error_of

pytest_plugins = ["tests.support.client_registration"]
pytestmark = pytest.mark.anyio


@pytest.fixture
def base_url(world: World) -> str:
    """``http`` speaks to the module's registration gateway."""
    return world.gateway.url


async def test_registration_read_update_delete_need_the_registration_access_token(
    http: httpx2.AsyncClient,
) -> None:
    mine = await registered(http, client_name="Mine")
    theirs = await registered(http, client_name="Theirs")
    uri, token = relative(mine["registration_client_uri"]), mine["registration_access_token"]
    for method in ("GET", "PUT", "DELETE"):
        missing = await http.request(method, uri, json={"client_id": mine["client_id"]})
        assert error_of(missing, 401) == "invalid_token"
        assert missing.headers["www-authenticate"] == "Bearer"
        for wrong in (theirs["registration_access_token"], token[:-1], "x"):
            refused = await http.request(
                method, uri, headers=bearer(wrong), json={"client_id": mine["client_id"]}
            )
            assert error_of(refused, 401) == "invalid_token"
            assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        basic = await http.request(method, uri, headers={"Authorization": f"Basic {token}"})
        assert error_of(basic, 401) == "invalid_token"
    unknown = await http.get("/register/no-such-client", headers=bearer(token))
    assert error_of(unknown, 401) == "invalid_token"

    read = await http.get(uri, headers=bearer(token))
    assert read.status_code == 200 and read.headers["cache-control"] == "no-store"
    assert read.json()["client_name"] == "Mine" and read.json()["client_id"] == mine["client_id"]

    update = {**read.json(), "client_name": "Mine, renamed", "redirect_uris": ["https://app.example/cb"]}
    updated = await http.put(uri, headers=bearer(token), json=update)
    assert updated.status_code == 200, updated.text
    assert updated.json()["client_name"] == "Mine, renamed"
    assert updated.json()["redirect_uris"] == ["https://app.example/cb"]
    assert (await http.get(uri, headers=bearer(token))).json()["client_name"] == "Mine, renamed"

    deleted = await http.delete(uri, headers=bearer(token))
    assert deleted.status_code == 204
    assert error_of(await http.get(uri, headers=bearer(token)), 401) == "invalid_token"
    gone = await http.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": mine["client_id"]}
    )
    assert error_of(gone, 401) == "invalid_client"
    assert (
        await http.get(
            uri.replace(mine["client_id"], theirs["client_id"]),
            headers=bearer(theirs["registration_access_token"]),
        )
    ).status_code == 200


async def test_registration_update_is_validated_like_a_registration(http: httpx2.AsyncClient) -> None:
    mine = await registered(http, token_endpoint_auth_method="client_secret_basic")
    uri, token = relative(mine["registration_client_uri"]), mine["registration_access_token"]
    current = (await http.get(uri, headers=bearer(token))).json()
    bad_redirect = await http.put(
        uri, headers=bearer(token), json={**current, "redirect_uris": ["javascript:x"]}
    )
    assert error_of(bad_redirect) == "invalid_redirect_uri"
    other_id = await http.put(uri, headers=bearer(token), json={**current, "client_id": "someone-else"})
    assert error_of(other_id) == "invalid_client_metadata"
    chosen_secret = await http.put(
        uri, headers=bearer(token), json={**current, "client_secret": "my-own-secret"}
    )
    assert error_of(chosen_secret) == "invalid_client_metadata"
    grants = await http.put(
        uri, headers=bearer(token), json={**current, "grant_types": ["client_credentials"]}
    )
    assert error_of(grants) == "invalid_client_metadata"
    same_secret = await http.put(
        uri, headers=bearer(token), json={**current, "client_secret": mine["client_secret"]}
    )
    assert same_secret.status_code == 200 and "client_secret" not in same_secret.json()
    public = await http.put(
        uri, headers=bearer(token), json={**current, "token_endpoint_auth_method": "none"}
    )
    assert public.status_code == 200 and "client_secret_expires_at" not in public.json()
    back = await http.put(
        uri, headers=bearer(token), json={**current, "token_endpoint_auth_method": "client_secret_post"}
    )
    assert back.status_code == 200 and len(back.json()["client_secret"]) >= 43  # a new secret, shown once
