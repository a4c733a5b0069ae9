"""``$ref`` inside one OpenAPI document: followed locally, a bounded number of hops, never fetched.

A Reference Object (``{"$ref": "#/components/parameters/owner"}``) is a JSON Pointer into the same
document (RFC 6901, in a URI fragment: RFC 3986 percent-decoding, then ``~1`` for ``/`` and ``~0``
for ``~``). The pointer is resolved with **referencing** (the library under ``jsonschema``) over the
document registered as an *opaque* resource: no ``$id`` inside it re-bases anything, and the
registry has no retriever, so a reference to another file or URL is :class:`Unmappable` and nothing
is ever read from the network or the disk (a document could otherwise make the gateway fetch
``http://169.254.169.254/…`` or ``file:///etc/…``; the full openapi-spec-validator does, by
default). A reference to a reference is followed up to :data:`MAX_HOPS` times, so a cycle of
Reference Objects ends as :class:`Unmappable` rather than looping (OA-3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from referencing import Registry, Resource, Specification
from referencing.exceptions import Unresolvable

MAX_HOPS = 16
"""References followed from one Reference Object before giving up (a chain longer is a cycle)."""
_DOCUMENT_URI = "urn:openapi:document"


class Unmappable(Exception):
    """One operation cannot become a tool; the message is the reason reported for it."""


class References:
    """Resolves the local references of one document.

    >>> refs = References({"components": {"parameters": {"id": {"name": "id", "in": "path"}}}})
    >>> refs.resolve({"$ref": "#/components/parameters/id"})
    {'name': 'id', 'in': 'path'}
    """

    def __init__(self, document: Mapping[str, Any]) -> None:
        resource: Resource[Any] = Specification.OPAQUE.create_resource(document)
        self._resolver = Registry().with_resource(_DOCUMENT_URI, resource).resolver(_DOCUMENT_URI)

    def lookup(self, ref: object) -> Any:
        """What the local reference ``ref`` (``#/…``) points at, not followed further."""
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise Unmappable(f"$ref {str(ref)[:120]!r} is not in this document (only '#/…' is followed)")
        if ref != "#" and not ref.startswith("#/"):
            raise Unmappable(f"$ref {ref[:120]!r} is an anchor, not a JSON Pointer")
        try:
            return self._resolver.lookup(ref).contents
        except Unresolvable:
            raise Unmappable(f"$ref {ref[:120]!r} points at nothing in this document") from None

    def resolve(self, node: Any) -> Any:
        """``node`` with its Reference Objects followed until a non-reference (at most
        :data:`MAX_HOPS`)."""
        for _ in range(MAX_HOPS):
            if not (isinstance(node, dict) and "$ref" in node):
                return node
            node = self.lookup(node["$ref"])
        raise Unmappable(f"more than {MAX_HOPS} $ref in a row (a reference cycle?)")

    def resolve_object(self, node: Any, what: str) -> dict[str, Any]:
        """:meth:`resolve`, and :class:`Unmappable` unless the result is an object."""
        resolved = self.resolve(node)
        if not isinstance(resolved, dict):
            raise Unmappable(f"{what} is not an object")
        return resolved


__all__ = ["MAX_HOPS", "References", "Unmappable"]
