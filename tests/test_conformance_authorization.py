"""The official MCP conformance suite's ``authorization`` command against a running gateway.

Needs ``make conformance-deps`` (``make test`` runs it); without it these tests fail, never skip.
"""

from __future__ import annotations

import pytest

from gateway.config import Settings
from tests.conformance import run_authorization_scenario
from tests.servers import running_gateway

pytestmark = pytest.mark.conformance


def test_conformance_authorization_server_metadata_endpoint_passes() -> None:
    with running_gateway(lambda port: Settings(port=port, store="memory://")) as gateway:
        result = run_authorization_scenario(gateway.issuer, "authorization-server-metadata-endpoint")

    report = result.summary()
    passed = result.passed
    assert passed, f"the conformance suite failed:\n{report}"
    assert result.check("authorization-server-metadata")["status"] == "SUCCESS", report
