"""Dynamic client registration (RFC 7591) and its management protocol (RFC 7592); RG-1.

    POST   /register              register: 201 with the client information and the credentials
    GET    /register/<client_id>  read      } Authorization: Bearer <registration_access_token>,
    PUT    /register/<client_id>  update    } 401 otherwise (an unknown client is also 401,
    DELETE /register/<client_id>  delete    } RFC 7592 §2: no oracle for which ids exist)

The gateway chooses the ``client_id`` (a ``client_id`` in the request is ignored, like every member
it does not understand). A ``client_secret`` is generated only for the secret-based methods and the
``registration_access_token`` always; both are shown once, in the 201, and only their SHA-256
digests are kept (256-bit random values need no slow KDF). Registrations are rate-limited per
client IP address with a fixed one-minute window counted in the store, so every replica shares it;
over the limit the answer is 429 with ``Retry-After``.

What a client may register is decided by :mod:`gateway.oauth.client_metadata`.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway import paths
from gateway.approvals.decisions import MAX_SCOPES
from gateway.approvals.request_desk import RequestDesk
from gateway.audit import AuditLog
from gateway.clock import Clock
from gateway.constant_time import same
from gateway.errors import (
    NO_STORE,
    InvalidBearerToken,
    InvalidClientMetadata,
    OAuthError,
    RateLimited,
)
from gateway.oauth.clients.model import Client, hash_secret, new_secret
from gateway.oauth.clients.registry import ClientRegistry
from gateway.oauth.clients.self_described import (
    CODE_GRANTS,
    SECRET_METHODS,
    MetadataPolicy,
    client_metadata,
    parse_client_metadata,
)
from gateway.oauth.forms import read_oauth_body
from gateway.rate_limits import WindowCounter
from gateway.request_body import DuplicateMember, unique_members
from gateway.store import Store
from tools_registry.scopes import covers

REGISTRATIONS = "client_registrations"
"""Store collection: client id -> the digest of its registration access token."""
MAX_REGISTRATION_BYTES = 16 * 1024


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def read_json_object(request: Request, max_bytes: int = MAX_REGISTRATION_BYTES) -> dict[str, Any]:
    """The request body as one JSON object: size-capped before it is read in full, strict JSON."""
    body = await read_oauth_body(request, max_bytes, "application/json")
    try:
        document = json.loads(
            body.decode("utf-8"), object_pairs_hook=unique_members, parse_constant=_reject_constant
        )
    except DuplicateMember as exc:
        raise InvalidClientMetadata(f"the member {exc.name[:64]!r} appears twice") from None
    except InvalidClientMetadata:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidClientMetadata("the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise InvalidClientMetadata("the client metadata must be a JSON object")
    return document


def _json(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=NO_STORE)


class RegistrationEndpoints:
    def __init__(
        self,
        *,
        clients: ClientRegistry,
        store: Store,
        clock: Clock,
        policy: MetadataPolicy,
        limiter: WindowCounter,
        registration_uri: str,
        audit: AuditLog,
        requests: RequestDesk | None = None,
    ) -> None:
        self._requests = requests
        self._clients = clients
        self._store = store
        self._clock = clock
        self._policy = policy
        self._limiter = limiter
        self._registration_uri = registration_uri.rstrip("/")
        self._audit = audit

    def _client_uri(self, client_id: str) -> str:
        return f"{self._registration_uri}/{client_id}"

    def _information(self, client: Client, **credentials: str) -> dict[str, Any]:
        return {
            **client_metadata(client),
            **credentials,
            "registration_client_uri": self._client_uri(client.client_id),
        }

    # -- POST /register ----------------------------------------------------------------------
    async def register(self, request: Request) -> Response:
        address = request.client.host if request.client is not None else "unknown"
        retry_after = await self._limiter.hit(address)
        if retry_after is not None:
            self._audit.record("client_registration", outcome="rate_limited", address=address)
            raise RateLimited(
                f"too many registrations from this address; retry in {retry_after} s",
                retry_after=retry_after,
            )
        try:
            document = await read_json_object(request)
            client_id = secrets.token_urlsafe(18)
            secret = new_secret()
            client = parse_client_metadata(
                document,
                self._policy,
                client_id=client_id,
                secret_hash=hash_secret(secret),
                issued_at=int(self._clock.now()),
            )
        except OAuthError as exc:
            self._audit.record(
                "client_registration", outcome="refused", error=exc.error, reason=exc.description
            )
            raise
        access_token = secrets.token_urlsafe(32)
        await self._store.put_record(
            REGISTRATIONS, client_id, json.dumps({"token_hash": hash_secret(access_token)})
        )
        await self._clients.add(client)
        self._audit.record(
            "client_registration",
            outcome="registered",
            client_id=client_id,
            auth_method=client.auth_method,
            grant_types=" ".join(client.grant_types),
            scope=" ".join(client.scopes),
        )
        await self._ask_for_the_rest(client, document)
        credentials = {"registration_access_token": access_token}
        if client.secret_hash is not None:
            credentials["client_secret"] = secret
        return _json(self._information(client, **credentials), status=201)

    async def _ask_for_the_rest(self, client: Client, document: dict[str, Any]) -> None:
        """AP-3: the scopes a registration asked for beyond what it was given, where a rule of the
        policy names them as granted after approval, go to the security team as one access
        request (scopes no rule names, such as a host's ``openid email profile``, file nothing)."""
        asked = document.get("scope")
        if self._requests is None or not isinstance(asked, str):
            return
        policy = self._requests.policy
        rest = [
            scope
            for scope in dict.fromkeys(asked.split())
            if not covers(client.scopes, scope)
            and (rule := policy.rule_for(scope)) is not policy.default
            and rule.decision == "approval"
        ]
        if rest:
            with contextlib.suppress(OAuthError):  # the registration stands whatever the request
                await self._requests.file(
                    client_id=client.client_id,
                    scopes=rest[:MAX_SCOPES],
                    origin="registration",
                    justification=f"asked for when {client.name or 'the client'} registered",
                )

    # -- RFC 7592: /register/<client_id> -----------------------------------------------------
    async def _authorized_client(self, request: Request) -> Client:
        """The client whose registration access token this request carries; 401 otherwise."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise InvalidBearerToken("the registration access token is required", token_sent=False)
        client_id = request.path_params["client_id"]
        record = await self._store.get_record(REGISTRATIONS, client_id)
        expected = str(json.loads(record).get("token_hash", "")) if record is not None else ""
        # compare even when there is no record, so the answer time does not tell which ids exist
        matches = same(hash_secret(token), expected or hash_secret(""))
        client = await self._clients.get(client_id) if matches and expected else None
        if client is None:
            self._audit.record("client_management", outcome="refused", method=request.method)
            raise InvalidBearerToken("the registration access token is not valid for this client")
        return client

    async def read(self, request: Request) -> Response:
        client = await self._authorized_client(request)
        return _json(self._information(client))

    async def update(self, request: Request) -> Response:
        current = await self._authorized_client(request)
        try:
            return await self._update(current, request)
        except OAuthError as exc:  # AU-4: a refused update is a decision too
            self._audit.record(
                "client_management",
                outcome="refused",
                method=request.method,
                client_id=current.client_id,
                error=exc.error,
                reason=exc.description,
            )
            raise

    async def _update(self, current: Client, request: Request) -> Response:
        document = await read_json_object(request)
        if document.get("client_id") != current.client_id:
            raise InvalidClientMetadata("the client_id in the body must be this client's id")
        presented = document.get("client_secret")
        if presented is not None and (not isinstance(presented, str) or not current.verify_secret(presented)):
            raise InvalidClientMetadata("client_secret does not match the issued secret")
        new_secret_value: str | None = None
        secret_hash = current.secret_hash
        method = document.get("token_endpoint_auth_method", self._policy.default_auth_method)
        if method in SECRET_METHODS and secret_hash is None:
            new_secret_value = new_secret()
            secret_hash = hash_secret(new_secret_value)
        client = parse_client_metadata(
            document,
            self._policy,
            client_id=current.client_id,
            secret_hash=secret_hash,
            issued_at=current.created_at,
        )
        await self._clients.replace(client)
        self._audit.record(
            "client_management",
            outcome="updated",
            client_id=client.client_id,
            auth_method=client.auth_method,
            scope=" ".join(client.scopes),
        )
        credentials = {"client_secret": new_secret_value} if new_secret_value else {}
        return _json(self._information(client, **credentials))

    async def delete(self, request: Request) -> Response:
        client = await self._authorized_client(request)
        await self._clients.remove(client.client_id)
        await self._store.delete_record(REGISTRATIONS, client.client_id)
        self._audit.record("client_management", outcome="deleted", client_id=client.client_id)
        return Response(status_code=204, headers=NO_STORE)


def dcr_policy(allowed_scopes: tuple[str, ...], *, allow_client_credentials: bool) -> MetadataPolicy:
    """What a dynamic registration may ask for: the code grants, and ``client_credentials`` only
    when the operator allows it (``dcr_allow_client_credentials``)."""
    grants = CODE_GRANTS | ({"client_credentials"} if allow_client_credentials else set())
    return MetadataPolicy(allowed_scopes=allowed_scopes, grant_types=frozenset(grants))


def registration_routes(endpoints: RegistrationEndpoints) -> list[Route]:
    """The RFC 7591/7592 routes at ``/register`` and ``/register/<client_id>``."""
    client_path = paths.REGISTER + "/{client_id}"
    return [
        Route(paths.REGISTER, endpoints.register, methods=["POST"]),
        Route(client_path, endpoints.read, methods=["GET"]),
        Route(client_path, endpoints.update, methods=["PUT"]),
        Route(client_path, endpoints.delete, methods=["DELETE"]),
    ]
