"""The OAuth scopes an operation requires, read from its Security Requirements.

An operation's ``security`` (or, when it has none, the document's) is a list of alternatives, any
one of which is enough; each alternative names schemes that are all required, with the scopes each
needs (OpenAPI 3.1 §4.8.30). The gateway's model is simpler: a tool needs every scope in its list
(:mod:`tools_registry.scopes`). So a tool takes the scopes of the **first alternative that names an
OAuth 2 or OpenID Connect scheme**, the document's own order of preference; API keys and HTTP
schemes carry no scopes and are the upstream's business, not the agent's. ``security: []`` and an
operation under no such scheme need no scope from the document: the tool's scopes are empty and
the caller (the registration) decides, as it does for MCP servers (``<server>:<tool>``). Scopes that
are not RFC 6749 scope tokens make the operation unmappable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tools_registry.openapi.references import References, Unmappable
from tools_registry.scopes import is_scope_token

_SCOPED_TYPES = frozenset({"oauth2", "openIdConnect"})


def required_scopes(
    operation: Mapping[str, Any], document: Mapping[str, Any], refs: References
) -> tuple[str, ...]:
    """The scopes of ``operation`` (see the module docstring), each once, in document order."""
    requirements = operation.get("security", document.get("security", []))
    schemes = document.get("components", {}).get("securitySchemes", {})
    for requirement in requirements:
        scoped = [name for name in requirement if _scheme_type(schemes, name, refs) in _SCOPED_TYPES]
        if scoped:
            scopes = [scope for name in scoped for scope in requirement[name]]
            for scope in scopes:
                if not is_scope_token(scope):
                    raise Unmappable(f"its security requirement names {scope!r:.80}, not an OAuth scope")
            return tuple(dict.fromkeys(scopes))
    return ()


def _scheme_type(schemes: Mapping[str, Any], name: str, refs: References) -> str:
    if name not in schemes:
        raise Unmappable(f"its security requirement names the undefined scheme {name!r:.80}")
    scheme = refs.resolve_object(schemes[name], f"security scheme {name!r:.80}")
    return str(scheme.get("type"))


__all__ = ["required_scopes"]
