"""The admin API's OpenAPI document, and the API driven by it (rule book AD-2, AD-4).

The document is fetched as a client would, from the running gateway with an admin token, checked
against the OpenAPI 3.1 specification (``openapi-spec-validator``) and against the routes the
admin API really serves. Then schemathesis generates requests from it, valid ones and ones that
break it, and sends them with a security admin's token: no answer may be a 5xx, every refusal
must be problem details, and every answer must be what the document says (status, media type,
shape); requests that break the document must be refused.
"""

from __future__ import annotations

import doctest
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Route

from gateway import paths
from gateway.admin import json_bodies, paging, queries, roles
from gateway.admin.routes import admin_api_routes
from gateway.config import settings_from
from gateway.settings import Settings
from tests.support.admin_api import Operators, file_access_request, operator_client, request_path
from tests.support.agents import AgentKey
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.http_clients import http_client
from tests.support.problems import problem_of

AGENT = "agent"
ROLES = {"security": "admin:security-admin", "security2": "admin:security-admin", "auditor": "admin:auditor"}
EXAMPLES = 10
"""Generated requests per operation and mode: 15 operations, two modes, with and without real ids."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@dataclass
class Documented:
    gateway: RunningGateway
    ops: Operators
    ids: dict[str, str]
    """Records that exist, by path parameter name: generated requests also aim at them."""

    def headers(self, caller: str) -> dict[str, str]:
        async def token() -> str:
            async with http_client() as http:
                return await self.ops.token(http, caller)

        return {"Authorization": f"Bearer {anyio.run(token)}"}


@pytest.fixture(scope="module")
def documented(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Documented]:
    folder = tmp_path_factory.mktemp("openapi")
    keys = {client_id: AgentKey() for client_id in [*ROLES, AGENT]}

    def settings(port: int) -> Settings:
        operators = [operator_client(c, keys[c], scope, port) for c, scope in ROLES.items()]
        agent = {"client_id": AGENT, "scopes": ("weather",), "jwks": keys[AGENT].jwks}
        return settings_from(
            port=port, store=f"sqlite:///{folder / 'gw.sqlite3'}", clients=(*operators, agent)
        )

    async def records(ops: Operators, gateway: RunningGateway) -> dict[str, str]:
        async with http_client() as http:
            pending = await file_access_request(http, gateway, keys[AGENT], AGENT, "reports:read")
            granted = await file_access_request(http, gateway, keys[AGENT], AGENT, "reports:write")
            approved = await ops.decide(http, "security2", request_path(granted, "approve"))
        return {"request_id": pending, "grant_id": approved["grant_id"]}

    with running_gateway(settings) as gateway:
        ops = Operators(gateway, keys)
        yield Documented(gateway, ops, anyio.run(records, ops, gateway))


def served_document(documented: Documented, caller: str = "auditor") -> dict[str, Any]:
    response = httpx2.get(
        documented.gateway.endpoint(paths.ADMIN_OPENAPI), headers=documented.headers(caller), timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    document: dict[str, Any] = response.json()
    return document


def test_ad4_the_openapi_document_is_valid_openapi_3_1_and_served_only_with_an_admin_token(
    documented: Documented,
) -> None:
    refused = httpx2.get(documented.gateway.endpoint(paths.ADMIN_OPENAPI), timeout=30)
    assert problem_of(refused, 401)["error"] == "invalid_token"
    document = served_document(documented)
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": documented.gateway.endpoint(paths.ADMIN_API_V1)}]
    assert document["components"]["securitySchemes"]["adminToken"]["scheme"] == "bearer"


def test_ad4_the_document_names_every_route_of_the_admin_api_and_no_other(documented: Documented) -> None:
    gateway = documented.gateway.gateway
    assert gateway is not None
    served = {
        (route.path.removeprefix(paths.ADMIN_API_V1), method.lower())
        for route in admin_api_routes(gateway, "")
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    document = served_document(documented)
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    assert described == served


def test_ad2_generated_requests_get_no_5xx_and_every_answer_is_as_documented(documented: Documented) -> None:
    """Schemathesis over the served document; a security admin's token on every request, so the
    generated requests reach the handlers and the desks rather than stopping at the bearer check."""
    headers = documented.headers("security")
    schema = schemathesis.openapi.from_url(
        documented.gateway.endpoint(paths.ADMIN_OPENAPI), headers=headers, timeout=30
    )
    for result in schema.get_all_operations():
        operation = result.ok()
        fixed = {name: value for name, value in documented.ids.items() if f"{{{name}}}" in operation.path}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for path_parameters in ({}, fixed) if fixed else ({},):
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
                answer_as_documented(strategy.filter(sends_every_query_parameter), headers)


def sends_every_query_parameter(case: Any) -> bool:
    """Whether each generated query parameter reaches the wire. An extra parameter whose value is
    ``[]``, ``[[]]`` or ``[{}]`` serializes to nothing, so the request sent is valid after all, yet
    schemathesis (4.32) still calls it negative and expects a refusal: a false failure, not ours."""
    return not any(sends_nothing(value) for value in (case.query or {}).values())


def sends_nothing(value: Any) -> bool:
    """
    >>> sends_nothing([]), sends_nothing([[], {}]), sends_nothing(["x"]), sends_nothing("")
    (True, True, False, False)
    """
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, list) and all(sends_nothing(item) for item in value)


def answer_as_documented(strategy: Any, headers: dict[str, str]) -> None:
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(headers=headers, timeout=30)
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)
        if case.meta.generation.mode == GenerationMode.POSITIVE:  # negative cases may drop the token
            assert response.status_code != 401, response.text
        if response.status_code >= 400:
            assert response.headers["content-type"] == ["application/problem+json"], response.text
            body = response.json()
            assert set(body) == {"type", "title", "status", "detail", "error"}, body
            assert body["status"] == response.status_code
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def test_the_examples_in_the_admin_api_modules_hold() -> None:
    for module in (paging, queries, json_bodies, roles, sys.modules[__name__]):
        assert doctest.testmod(module, raise_on_error=True).attempted >= 1, module.__name__
