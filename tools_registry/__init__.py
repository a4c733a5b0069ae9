"""The catalogue of upstream MCP servers and their tools. It never imports the gateway.

* :mod:`tools_registry.servers`: the servers tool authors register (config file or store).
* :mod:`tools_registry.scopes`: the scope hierarchy (which granted scope covers which).
* :mod:`tools_registry.catalog`: discovered tools, namespaced, filtered by scope, paginated.
"""

from tools_registry.catalog import Catalog, CatalogTool, CursorError, ServerHealth, page
from tools_registry.scopes import covers, missing
from tools_registry.servers import (
    RecordStore,
    RegistryError,
    ServerRegistry,
    UpstreamServer,
    configured_servers,
    from_config,
)

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
