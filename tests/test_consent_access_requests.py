"""A person's agent asks at ``/authorize`` for more than it holds (AP-3, the consent page's path).

``desk`` holds ``tools:read``; the policy grants ``payments`` scopes after a security admin's
approval and never grants ``root`` (:mod:`tests.support.approval_desk`). A person signs in and
consents as a headless browser (:class:`tests.support.browser.Person`); what was filed is read at the
console by a security admin, and what the code carries from the token it redeems for.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest

from gateway import paths
from tests.support.approval_desk import CB, DESK, DESK_NAME, desk_gateway
from tests.support.authorization_code import PublicClient, new_verifier, query_of
from tests.support.browser import Person, form_fields
from tests.support.console import ConsoleUser
from tests.support.gateway_server import RunningGateway
from tests.support.tokens import claims_of
from tests.support.users import PASSWORD, signed_up

pytestmark = pytest.mark.anyio

STATE = "st-consent"


def desk(scope: str) -> PublicClient:
    return PublicClient(DESK, CB, scope, STATE)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    with desk_gateway(f"sqlite:///{tmp_path_factory.mktemp('consent') / 'gw.sqlite3'}") as running:
        yield running


@pytest.fixture
async def person(gateway: RunningGateway) -> AsyncIterator[Person]:
    async with signed_up(gateway.settings.server.store) as someone:
        yield someone


async def filed_for(gateway: RunningGateway, username: str) -> list[str]:
    """The pages of the access requests filed for ``username``, as a security admin reads them."""
    async with ConsoleUser(gateway.url) as sec:
        assert (await sec.sign_in("sec", PASSWORD)).status_code == 303
        queue = await sec.open(paths.CONSOLE)
        row = r'<a href="/admin/requests/(req_[^"]+)">[^<]+</a>(?:(?!</tr>).)*'
        ids = re.findall(rf"{row}for <strong>{re.escape(username)}</strong>", queue.text, re.S)
        return [(await sec.open(f"{paths.CONSOLE_REQUESTS}/{request_id}")).text for request_id in ids]


async def redeem(
    http: httpx2.AsyncClient, gateway: RunningGateway, code: str, verifier: str
) -> dict[str, str]:
    token = await http.post(gateway.endpoint(paths.TOKEN), data=desk("").redemption_form(code, verifier))
    assert token.status_code == 200, token.text
    return claims_of(token.json()["access_token"])


async def test_ap3_consent_files_the_scopes_awaiting_approval_and_the_code_carries_what_is_held(
    gateway: RunningGateway, person: Person, http: httpx2.AsyncClient
) -> None:
    verifier = new_verifier()
    sign_in = await person.http.get(desk("tools:read payments:refund root").authorize_url(gateway, verifier))
    action, hidden, _ = form_fields(sign_in.text)
    signed = await person.http.post(
        gateway.endpoint(action), data={**hidden, "username": person.username, "password": person.password}
    )
    page = await person.http.get(gateway.endpoint(signed.headers["location"]))
    assert page.status_code == 200
    assert f"<h1>Allow {DESK_NAME} to act for you?</h1>" in page.text
    approval = page.text.split("Needs approval by the security team", 1)[1]
    assert "<code>payments:refund</code> — Refund a customer&#x27;s payment" in approval
    assert "root" not in page.text, "a scope policy never grants is not offered"
    action, hidden, tickable = form_fields(page.text)
    assert tickable == ["tools:read"], "only what is held can be ticked"
    assert await filed_for(gateway, person.username) == [], "nothing is filed before the person allows"

    allowed = await person.http.post(
        gateway.endpoint(action), data={**hidden, "decision": "allow", "scope": tickable}
    )
    assert allowed.status_code == 303 and allowed.headers["location"].startswith(CB + "?")
    code = query_of(allowed.headers["location"])["code"]
    claims = await redeem(http, gateway, code, verifier)
    assert claims["scope"] == "tools:read" and claims["sub"] == person.username
    (filed,) = await filed_for(gateway, person.username)
    assert "<code>payments:refund</code>" in filed and "<code>root</code>" not in filed
    assert f"asked for at sign-in by {person.username}" in filed
    assert "at the consent page, when the person allowed" in filed and f"<code>{DESK}</code>" in filed


async def test_ap3_when_nothing_asked_for_is_held_the_person_is_told_it_went_for_approval(
    gateway: RunningGateway, person: Person
) -> None:
    url = desk("payments:export").authorize_url(gateway)
    outcome = await person.authorize(url)
    consent = person.pages[-2]
    assert f"<h1>Ask for approval for {DESK_NAME}?</h1>" in consent.text
    assert 'value="allow">Send for approval</button>' in consent.text
    assert 'name="scope"' not in consent.text
    assert outcome.status == 200 and outcome.location is None, "no redirect: a page for the person"
    assert "<h1>Sent to the security team for approval</h1>" in outcome.page
    assert "<code>payments:export</code>" in outcome.page
    request_id = re.search(r"Request <code>(req_[^<]+)</code>", outcome.page)
    assert request_id is not None
    (filed,) = await filed_for(gateway, person.username)
    assert request_id.group(1) in filed and "<code>payments:export</code>" in filed
    assert person.pages[-1].headers["x-frame-options"] == "DENY"


async def test_ap3_a_person_who_denies_files_nothing(gateway: RunningGateway, person: Person) -> None:
    for scope in ("tools:read payments:denied", "payments:denied-too"):
        outcome = await person.authorize(desk(scope).authorize_url(gateway), allow=False)
        assert outcome.params["error"] == "access_denied"
    assert await filed_for(gateway, person.username) == []


async def test_ap3_scopes_policy_never_grants_are_still_invalid_scope(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    answer = await http.get(desk("root").authorize_url(gateway))
    assert answer.status_code == 303
    assert "error=invalid_scope" in answer.headers["location"] and answer.headers["location"].startswith(CB)


async def test_ap3_remembered_consent_never_hides_scopes_awaiting_approval(
    gateway: RunningGateway, person: Person
) -> None:
    assert (await person.authorize(desk("tools:read").authorize_url(gateway))).code
    assert (await person.authorize(desk("tools:read").authorize_url(gateway))).code, "remembered"
    outcome = await person.authorize(desk("tools:read payments:again").authorize_url(gateway))
    assert outcome.code
    assert any("Needs approval by the security team" in page.text for page in person.pages[-3:])
    (filed,) = await filed_for(gateway, person.username)
    assert "<code>payments:again</code>" in filed
