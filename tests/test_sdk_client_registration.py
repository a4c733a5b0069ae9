"""The official ``mcp`` SDK's ``OAuthClientProvider`` as a client that describes itself: it registers
by DCR, or presents a Client ID Metadata Document URL (served over TLS by a throw-away CA), and
completes the authorization code flow headlessly with :class:`~tests.support.browser.Person`.

The DCR case runs on :mod:`tests.support.client_registration`'s gateway; the metadata document
case on a gateway of its own, whose fetcher trusts the throw-away CA.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import httpx2
import pytest
from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import OAuthClientMetadata
from pydantic import AnyUrl

from examples.agent import MemoryTokenStorage
from gateway.config import settings_from
from gateway.fetching import fetcher as fetch_module
from gateway.fetching.fetcher import DocumentFetcher, FetchPolicy
from gateway.settings import Settings
from tests.support.browser import Person
from tests.support.client_registration import DESCRIPTIONS, World, build_with, cimd_document
from tests.support.fetch_probes import TableResolver
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.http_server import serving_documents
from tests.support.protected_resource import CHALLENGED_SCOPE, with_protected_resource
from tests.support.sdk_clients import SdkBrowser
from tests.support.tls import ThrowAwayCA
from tests.support.users import signed_up

pytest_plugins = ["tests.support.client_registration"]
pytestmark = pytest.mark.anyio

TLS_CIMD_HOST = "client.test"


SDK_REDIRECT = "http://127.0.0.1:9/callback"


async def sdk_get_mcp(
    gateway: RunningGateway, provider: OAuthClientProvider
) -> tuple[httpx2.Response, list[str]]:
    paths: list[str] = []

    async def record(request: httpx2.Request) -> None:
        paths.append(f"{request.method} {request.url.path}")

    async with httpx2.AsyncClient(auth=provider, timeout=20, event_hooks={"request": [record]}) as http:
        return await http.get(f"{gateway.url}/mcp"), paths


@pytest.mark.parametrize("auth_method", [None, "client_secret_post", "none"])
async def test_mcp_sdk_registers_by_dcr_and_completes_the_authorization_code_flow(
    world: World, person: Person, auth_method: str | None
) -> None:
    browser = SdkBrowser(person)
    storage = MemoryTokenStorage()
    provider = OAuthClientProvider(
        server_url=f"{world.gateway.url}/mcp",
        client_metadata=OAuthClientMetadata(
            redirect_uris=[AnyUrl(SDK_REDIRECT)],
            client_name="SDK agent",
            token_endpoint_auth_method=auth_method,  # type: ignore[arg-type]
        ),
        storage=storage,
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )
    response, paths = await sdk_get_mcp(world.gateway, provider)
    assert response.status_code == 200, response.text
    assert "POST /register" in paths
    info = storage.client_info
    assert (
        info is not None
        and info.client_id
        and info.token_endpoint_auth_method == (auth_method or "client_secret_basic")
    )
    assert (info.client_secret is None) == (auth_method == "none")
    claims = response.json()
    assert claims["client_id"] == info.client_id and claims["sub"] == person.username
    assert claims["scope"] == CHALLENGED_SCOPE
    assert storage.tokens is not None and storage.tokens.refresh_token


async def test_mcp_sdk_uses_a_client_id_metadata_document_and_completes_the_flow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CIMD the way the SDK does it: an https client id, no registration request at all."""
    authority = ThrowAwayCA(tmp_path)
    monkeypatch.setattr(fetch_module, "_default_ssl_context", lambda: authority.client)
    store = f"sqlite:///{tmp_path / 'gw.sqlite3'}"
    with serving_documents(authority.server_for(TLS_CIMD_HOST)) as documents:
        url = documents.url("/clients/sdk-agent.json", host=TLS_CIMD_HOST, scheme="https")
        documents.state.publish(
            "/clients/sdk-agent.json",
            cimd_document(url, client_name="SDK CIMD agent", redirect_uris=[SDK_REDIRECT]),
            **{"Cache-Control": "max-age=300"},
        )
        allowed = (f"{TLS_CIMD_HOST}:{documents.port}",)
        fetcher = DocumentFetcher(
            FetchPolicy(allowed_private_hosts=frozenset(allowed)),
            resolver=TableResolver({TLS_CIMD_HOST: ["127.0.0.1"]}),
        )

        def settings(port: int) -> Settings:
            return settings_from(
                port=port,
                store=store,
                scope_descriptions=DESCRIPTIONS,
                dcr_allowed_scopes=tuple(DESCRIPTIONS),
                fetch_allowed_private_hosts=allowed,
            )

        with running_gateway(settings, build=build_with(fetcher), wrap=with_protected_resource) as gateway:
            async with signed_up(store) as person:
                browser = SdkBrowser(person)
                storage = MemoryTokenStorage()
                provider = OAuthClientProvider(
                    server_url=f"{gateway.url}/mcp",
                    client_metadata=OAuthClientMetadata(redirect_uris=[AnyUrl(SDK_REDIRECT)]),
                    storage=storage,
                    redirect_handler=browser.redirect_handler,
                    callback_handler=browser.callback_handler,
                    client_metadata_url=url,
                )
                response, paths = await sdk_get_mcp(gateway, provider)
        assert response.status_code == 200, response.text
        assert not any(path.endswith("/register") for path in paths)
        assert storage.client_info is not None and storage.client_info.client_id == url
        claims = response.json()
        assert claims["client_id"] == url and claims["sub"] == person.username
        assert "client_id=" + urlencode({"": url})[1:] in browser.authorize_urls[0]
        consent = next(page.text for page in person.pages if "Allow SDK CIMD agent" in page.text)
        assert "127.0.0.1:9" in consent
        assert documents.state.count("/clients/sdk-agent.json") == 1
