"""A small REST API ("notes") that accepts only the gateway's downstream tokens, for REST upstreams.

It serves its own OpenAPI 3.1 document at ``/openapi.json`` (an oauth2 scheme with ``notes:read``
and ``notes:write``), verifies each bearer token with the gateway's JWKS exactly as the example
MCP upstream does (:class:`examples.upstream_server.GatewayTokenVerifier`: issuer, audience,
``at+jwt``, ES256), checks the operation's scope, and records what it received.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from examples.upstream_server import GatewayTokenVerifier

_NOTE = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "text": {"type": "string"}},
    "required": ["id", "text"],
}


def openapi_document() -> dict[str, Any]:
    read, write = [{"oauth": ["notes:read"]}], [{"oauth": ["notes:write"]}]
    ok = {"description": "ok", "content": {"application/json": {"schema": _NOTE}}}
    note_id = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Notes", "version": "1"},
        "components": {
            "securitySchemes": {
                "oauth": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": "https://gateway.example/token",
                            "scopes": {"notes:read": "read notes", "notes:write": "write notes"},
                        }
                    },
                }
            }
        },
        "paths": {
            "/notes": {
                "get": {
                    "operationId": "listNotes",
                    "summary": "List the notes",
                    "security": read,
                    "responses": {"200": {"description": "ok"}},
                },
                "post": {
                    "operationId": "createNote",
                    "summary": "Create a note",
                    "security": write,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "properties": {"text": {"type": "string"}}}
                            }
                        },
                    },
                    "responses": {"201": ok},
                },
            },
            "/notes/{id}": {
                "get": {
                    "operationId": "getNote",
                    "summary": "One note",
                    "security": read,
                    "parameters": note_id,
                    "responses": {"200": ok, "404": {"description": "no such note"}},
                },
                "delete": {
                    "operationId": "deleteNote",
                    "security": write,
                    "parameters": note_id,
                    "responses": {"204": {"description": "deleted"}},
                },
            },
        },
    }


@dataclass
class NotesApi:
    """The API's state and what it received: ``(authorization header, claims, method, path)``;
    ``document`` is what ``/openapi.json`` serves, which a test may change under a running API."""

    document: dict[str, Any] = field(default_factory=openapi_document)
    notes: dict[str, str] = field(default_factory=lambda: {"1": "buy milk"})
    received: list[tuple[str, dict[str, Any], str, str]] = field(default_factory=list)

    def app(self, issuer: str, audience: str) -> Starlette:
        verifier = GatewayTokenVerifier(issuer, audience)

        async def authorized(request: Request, scope: str) -> Response | None:
            header = request.headers.get("authorization", "")
            token = header.removeprefix("Bearer ")
            access = await verifier.verify_token(token) if header.startswith("Bearer ") else None
            if access is None or access.claims is None:
                return JSONResponse({"error": "invalid_token"}, status_code=401)
            self.received.append((header, dict(access.claims), request.method, request.url.path))
            if scope not in access.scopes:
                return JSONResponse({"error": "insufficient_scope"}, status_code=403)
            return None

        async def document(request: Request) -> Response:
            return JSONResponse(self.document)

        async def notes(request: Request) -> Response:
            if request.method == "GET":
                return await authorized(request, "notes:read") or JSONResponse(
                    [{"id": k, "text": v} for k, v in self.notes.items()]
                )
            if refused := await authorized(request, "notes:write"):
                return refused
            body = await request.json()
            note_id = str(len(self.notes) + 1)
            self.notes[note_id] = str(body.get("text", ""))
            return JSONResponse({"id": note_id, "text": self.notes[note_id]}, status_code=201)

        async def note(request: Request) -> Response:
            note_id = request.path_params["id"]
            scope = "notes:read" if request.method == "GET" else "notes:write"
            if refused := await authorized(request, scope):
                return refused
            if note_id not in self.notes:
                return JSONResponse({"error": f"no note {note_id}"}, status_code=404)
            if request.method == "DELETE":
                del self.notes[note_id]
                return Response(status_code=204)
            return JSONResponse({"id": note_id, "text": self.notes[note_id]})

        return Starlette(
            routes=[
                Route("/openapi.json", document),
                Route("/notes", notes, methods=["GET", "POST"]),
                Route("/notes/{id}", note, methods=["GET", "DELETE"]),
            ]
        )
