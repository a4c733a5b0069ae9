"""Token endpoint grants. Each grant is a callable taking the authenticated client and the form."""

from __future__ import annotations

from typing import Any, Protocol

from gateway.oauth.clients.model import Client
from gateway.oauth.forms import Form


class Grant(Protocol):
    grant_type: str

    async def __call__(self, client: Client, form: Form) -> dict[str, Any]:
        """The JSON body of a successful token response."""
        ...
