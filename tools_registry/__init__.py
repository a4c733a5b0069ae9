"""The catalogue of upstream MCP servers and their tools. It never imports the gateway.

* :mod:`tools_registry.servers`: an upstream server as tool authors register it, validated.
* :mod:`tools_registry.input_requests`: what an upstream may ask of agents (elicitation, sampling …).
* :mod:`tools_registry.server_registry`: where servers are kept (config file or store), audiences bound.
* :mod:`tools_registry.urls`: URLs, loopback hosts, origins and their canonical form, for everyone.
* :mod:`tools_registry.scopes`: the scope hierarchy (which granted scope covers which).
* :mod:`tools_registry.catalog`: discovered tools by server, with each server's health.
* :mod:`tools_registry.tool_entries`: one ``tools/list`` entry read into a namespaced tool.
* :mod:`tools_registry.visibility`: which tools a token's scopes let it see.
* :mod:`tools_registry.pagination`: pages of ``tools/list`` and their opaque cursors.
* :mod:`tools_registry.openapi`: a REST API's OpenAPI document as tools, a call as an HTTP request.
"""

from tools_registry.catalog import Catalog, ServerHealth
from tools_registry.pagination import CursorError, page
from tools_registry.scopes import covers, missing
from tools_registry.server_registry import RecordStore, ServerRegistry
from tools_registry.servers import RegistryError, UpstreamServer, configured_servers, from_config
from tools_registry.tool_entries import CatalogTool

__all__ = [
    "Catalog",
    "CatalogTool",
    "CursorError",
    "RecordStore",
    "RegistryError",
    "ServerHealth",
    "ServerRegistry",
    "UpstreamServer",
    "configured_servers",
    "covers",
    "from_config",
    "missing",
    "page",
]
