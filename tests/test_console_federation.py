"""Signing in to the console at the company's OpenID provider: a real one, panva's ``oidc-provider``
under Node 22 (``tests/support/idp/provider.mjs``), whose ID tokens carry a ``groups`` claim.

The gateway maps ``sec-team`` to ``security-admin`` and ``audit`` to ``auditor``
(``oidc_role_claim = "groups"``, ``[oidc_role_mapping]``). A person presses "Sign in with Test IdP"
on the console's sign-in page, passes the provider's own forms, and lands on the console with the
roles their groups map to, and no other (AD-6). The callback of a console sign-in is honoured only
in the browser that began it (AD-5); a federated sign-in at ``/authorize`` opens the console too,
since the two share one session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import urljoin

import httpx2
import pytest

from gateway import paths
from gateway.settings import Settings
from tests.support.approval_desk import settings_for
from tests.support.authorization_code import PublicClient
from tests.support.console import forms_of
from tests.support.gateway_server import RunningGateway
from tests.support.http_clients import http_client
from tests.support.oidc_idp import (
    IDP_CLIENT,
    RunningIdp,
    gateway_beside_idp,
    through_the_provider,
)

pytestmark = pytest.mark.anyio

ACCOUNTS = {
    "alice": {"groups": ["staff", "sec-team"]},
    "bob": {"groups": ["staff"]},
    "carol": {"preferred_username": "carol"},
    "dave": {"groups": "audit"},
}
MAPPING = {"sec-team": "security-admin", "audit": "auditor"}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningGateway, RunningIdp]]:
    store = f"sqlite:///{tmp_path_factory.mktemp('console-federation') / 'gw.sqlite3'}"

    def settings(port: int, idp: RunningIdp, secret: str) -> Settings:
        return settings_for(
            store,
            oidc_issuer=idp.issuer,
            oidc_client_id=IDP_CLIENT,
            oidc_client_secret=secret,
            oidc_scopes=("openid", "groups"),
            oidc_provider_name="Test IdP",
            oidc_role_claim="groups",
            oidc_role_mapping=MAPPING,
        )(port)

    with gateway_beside_idp(ACCOUNTS, settings) as deployment:
        yield deployment


@pytest.fixture
async def browser() -> AsyncIterator[httpx2.AsyncClient]:
    """One person's browser, at the gateway and at the provider: one cookie jar."""
    async with http_client() as client:
        yield client


async def to_the_provider(browser: httpx2.AsyncClient, gw: RunningGateway, then: str = paths.CONSOLE) -> str:
    """Open the console's sign-in page and press "Sign in with Test IdP"; the provider's URL."""
    page = await browser.get(gw.endpoint(f"{paths.CONSOLE_SIGN_IN}?next={then}"))
    assert page.status_code == 200 and "Sign in with Test IdP</button>" in page.text
    hidden = forms_of(page.text)[paths.CONSOLE_FEDERATED]
    started = await browser.post(gw.endpoint(paths.CONSOLE_FEDERATED), data=hidden)
    assert started.status_code == 303, started.text[:500]
    return str(started.headers["location"])


async def console_as(browser: httpx2.AsyncClient, gw: RunningGateway, login: str) -> httpx2.Response:
    """Sign ``login`` in at the provider from the console and open the page the callback leads to."""
    callback = await through_the_provider(browser, await to_the_provider(browser, gw), gw, login=login)
    landed = await browser.get(callback)
    assert landed.status_code == 303 and landed.headers["location"] == paths.CONSOLE, landed.text[:500]
    return await browser.get(gw.endpoint(paths.CONSOLE))


async def test_ad6_a_federated_person_holds_the_roles_their_groups_map_to_and_no_other(
    deployment: tuple[RunningGateway, RunningIdp],
) -> None:
    gw, idp = deployment
    seen: dict[str, httpx2.Response] = {}
    for login in ACCOUNTS:
        async with http_client() as browser:
            if login == "alice":
                sign_in = await browser.get(gw.endpoint(paths.CONSOLE_SIGN_IN))
                assert idp.issuer in sign_in.headers["content-security-policy"], "form-action: the provider"
            seen[login] = await console_as(browser, gw, login)
    assert seen["alice"].status_code == 200
    assert "Signed in as <strong>oidc:alice</strong> · security-admin<" in seen["alice"].text
    assert seen["dave"].status_code == 200, "a claim of one string maps too"
    assert "Signed in as <strong>oidc:dave</strong> · auditor<" in seen["dave"].text
    for nobody in ("bob", "carol"):
        assert seen[nobody].status_code == 403 and "You hold no role at the console" in seen[nobody].text


async def test_ad5_a_console_sign_in_at_the_provider_comes_back_only_to_the_browser_that_began_it(
    deployment: tuple[RunningGateway, RunningIdp], browser: httpx2.AsyncClient
) -> None:
    gw, _ = deployment
    callback = await through_the_provider(browser, await to_the_provider(browser, gw), gw, login="alice")
    async with http_client() as attacker:
        stolen = await attacker.get(callback)
        assert stolen.status_code == 403 and "not started in this browser" in stolen.text
        assert "set-cookie" not in stolen.headers
        assert (await attacker.get(gw.endpoint(paths.CONSOLE))).status_code == 303
    assert (await browser.get(callback)).status_code == 403, "the state was burnt"


async def test_ad6_a_federated_sign_in_at_authorize_opens_the_console_with_the_same_roles(
    deployment: tuple[RunningGateway, RunningIdp], browser: httpx2.AsyncClient
) -> None:
    """One session for ``/authorize`` and ``/admin``: the roles mapped at that sign-in come along."""
    gw, _ = deployment
    desk = PublicClient("desk", "http://127.0.0.1:9999/cb", "tools:read", "st")
    page = await browser.get(desk.authorize_url(gw))
    hidden = forms_of(page.text)[paths.FEDERATED_START]
    started = await browser.post(gw.endpoint(paths.FEDERATED_START), data=hidden)
    callback = await through_the_provider(browser, started.headers["location"], gw, login="alice")
    back = await browser.get(callback)
    assert back.headers["location"].startswith(paths.CONSENT + "?")
    consent = await browser.get(urljoin(gw.url, back.headers["location"]))
    assert "Signed in as <strong>oidc:alice</strong>" in consent.text
    queue = await browser.get(gw.endpoint(paths.CONSOLE))
    assert queue.status_code == 200 and "oidc:alice</strong> · security-admin<" in queue.text
