"""Where a gateway is reached, read from its settings: the same whether it runs under uvicorn or in
the test's process, so a test reads ``gateway.url``, ``gateway.issuer`` and ``gateway.endpoint(…)``
without knowing which."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.settings import Settings


@dataclass
class GatewayAddress:
    settings: Settings

    @property
    def url(self) -> str:
        return self.settings.server.base_url

    @property
    def issuer(self) -> str:
        return self.settings.server.issuer_id

    def endpoint(self, path: str) -> str:
        return self.settings.server.endpoint(path)
