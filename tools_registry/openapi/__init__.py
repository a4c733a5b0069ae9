"""A REST API registered by its OpenAPI 3.0/3.1 document: its operations as MCP tools.

* :mod:`.documents`: the document, read with bounds and validated (and why this library).
* :mod:`.bounded`: JSON and YAML text with bounds on size, nesting and node count.
* :mod:`.references`: ``$ref`` followed inside the document, never fetched.
* :mod:`.schemas`: Schema Objects as self-contained JSON Schema 2020-12 (``$defs``).
* :mod:`.naming`, :mod:`.parameters`, :mod:`.security`, :mod:`.mapping`: operations as tools.
* :mod:`.headers`: the headers an agent never sets.
* :mod:`.calls`: a tool call as an HTTP request; :mod:`.results`: the answer as a tool result.

It never imports the gateway; the gateway will send the requests (later).

>>> document = load_document(b'''{"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
...   "paths": {"/pets/{id}": {"get": {"operationId": "getPet", "responses": {"200": {"description": "ok"}},
...     "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]}}}}''')
>>> api = import_api(document)
>>> build_request(api.tool("getPet"), {"id": "../admin"}, "https://api.example/v1").url
'https://api.example/v1/pets/..%2Fadmin'
"""

from tools_registry.openapi.calls import build_request
from tools_registry.openapi.documents import OpenApiDocument, OpenApiError, load_document
from tools_registry.openapi.mapping import import_api
from tools_registry.openapi.models import (
    ImportedApi,
    RestParameter,
    RestRequest,
    RestTool,
    Skipped,
    ToolArgumentsError,
)
from tools_registry.openapi.results import tool_result

__all__ = [
    "ImportedApi",
    "OpenApiDocument",
    "OpenApiError",
    "RestParameter",
    "RestRequest",
    "RestTool",
    "Skipped",
    "ToolArgumentsError",
    "build_request",
    "import_api",
    "load_document",
    "tool_result",
]
