"""Input an upstream asks of the agent during a call: what it is told it may ask, and what is relayed
(rule book UP-5).

In the 2026-07-28 era a server that needs something from the client's side answers a call with an
``InputRequiredResult``: a map of ``inputRequests`` (elicitation, sampling, roots) and an opaque
``requestState``; the client fulfils the requests and retries the call with ``inputResponses`` and
the same ``requestState``. Through the gateway:

* the upstream is told, as its client's capabilities, the intersection of what the agent declared
  in this request (``_meta["io.modelcontextprotocol/clientCapabilities"]``) and what the server's
  registration allows (``input_requests``, nothing by default) — :class:`InputGrant`;
* an ``InputRequiredResult`` reaches the agent unchanged only when every request in it is of a
  granted kind, within bounds (:data:`MAX_INPUT_REQUESTS`, :data:`MAX_INPUT_REQUESTS_SIZE`,
  :data:`MAX_REQUEST_STATE`); anything else is refused with an error naming the upstream;
* the agent's retry goes to the upstream of the tool it names, as every call does (a fresh
  downstream token, the agent's ``inputResponses`` and ``requestState`` as they are): the gateway
  keeps no state, and reads the echoed ``requestState`` as the agent's input, bounded like the rest
  (:func:`retry_refusal`).

The 2025 handshake era carries these requests as server-to-client JSON-RPC requests on an SSE
stream, answered in a later POST; the gateway does not relay those, so it declares no such
capability there (the grant is empty).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_INPUT_REQUESTS = 16
"""Input requests in one ``InputRequiredResult`` (and responses in one retry)."""
MAX_INPUT_REQUESTS_SIZE = 1024 * 1024
"""Characters of the ``inputRequests`` of one result, as JSON."""
MAX_REQUEST_STATE = 64 * 1024
"""Characters of a ``requestState``, from the upstream and back from the agent."""
MAX_KEY = 256
"""Characters of one input request's key."""

_ELICITATION_MODES = {"form": "elicitation", "url": "elicitation.url"}


def declared_kinds(capabilities: object) -> tuple[frozenset[str], bool]:
    """The input request kinds a client's capabilities declare, and whether sampling with tools is
    among them. A bare ``elicitation: {}`` (the shape before modes existed) is form elicitation."""
    if not isinstance(capabilities, Mapping):
        return frozenset(), False
    kinds: set[str] = set()
    elicitation = capabilities.get("elicitation")
    if isinstance(elicitation, Mapping):
        if isinstance(elicitation.get("form"), Mapping) or elicitation.get("url") is None:
            kinds.add("elicitation")
        if isinstance(elicitation.get("url"), Mapping):
            kinds.add("elicitation.url")
    sampling = capabilities.get("sampling")
    if isinstance(sampling, Mapping):
        kinds.add("sampling")
    if isinstance(capabilities.get("roots"), Mapping):
        kinds.add("roots")
    return frozenset(kinds), isinstance(sampling, Mapping) and isinstance(sampling.get("tools"), Mapping)


def kind_of(request: object) -> str | None:
    """The kind of one input request (None: not one the gateway knows)."""
    if not isinstance(request, Mapping):
        return None
    method, params = request.get("method"), request.get("params")
    if method == "sampling/createMessage" and isinstance(params, Mapping):
        return "sampling"
    if method == "roots/list":
        return "roots"
    if method == "elicitation/create" and isinstance(params, Mapping):
        return _ELICITATION_MODES.get(params.get("mode", "form"))
    return None


@dataclass(frozen=True)
class InputGrant:
    """What an upstream may ask the agent in one call: declared by the agent ∩ allowed for the server.

    >>> grant = InputGrant.of({"elicitation": {"form": {}, "url": {}}, "sampling": {}}, ["elicitation"])
    >>> grant.client_capabilities()
    {'elicitation': {'form': {}}}
    """

    kinds: frozenset[str] = frozenset()
    sampling_tools: bool = False

    @classmethod
    def of(cls, declared: object, allowed: Iterable[str]) -> InputGrant:
        kinds, sampling_tools = declared_kinds(declared)
        granted = kinds & frozenset(allowed)
        return cls(granted, sampling_tools and "sampling" in granted)

    def client_capabilities(self) -> dict[str, Any]:
        """The client capabilities the upstream is told. Never ``sampling.context``: a server may
        only ask for the context of other servers (``includeContext``) when it is declared, and
        through a gateway that would hand one upstream what the agent has from the others."""
        capabilities: dict[str, Any] = {}
        modes: dict[str, Any] = {mode: {} for mode, kind in _ELICITATION_MODES.items() if kind in self.kinds}
        if modes:
            capabilities["elicitation"] = modes
        if "sampling" in self.kinds:
            capabilities["sampling"] = {"tools": {}} if self.sampling_tools else {}
        if "roots" in self.kinds:
            capabilities["roots"] = {}
        return capabilities

    def refusal(self, result: Mapping[str, Any]) -> str | None:
        """Why an ``InputRequiredResult`` may not reach the agent (None: it may, unchanged)."""
        if not self.kinds:
            return "asked for input the gateway does not relay for this call"
        requests, state = result.get("inputRequests"), result.get("requestState")
        if requests is None and state is None:
            return "asked for input without input requests or request state"
        if state is not None and (not isinstance(state, str) or len(state) > MAX_REQUEST_STATE):
            return f"sent a requestState that is not a string of at most {MAX_REQUEST_STATE} characters"
        if requests is None:
            return None
        if not isinstance(requests, Mapping) or len(requests) > MAX_INPUT_REQUESTS:
            return f"sent inputRequests that are not a map of at most {MAX_INPUT_REQUESTS} requests"
        if len(json.dumps(requests)) > MAX_INPUT_REQUESTS_SIZE:
            return f"sent inputRequests larger than {MAX_INPUT_REQUESTS_SIZE} characters"
        for key, request in requests.items():
            if len(key) > MAX_KEY:
                return f"sent an input request key longer than {MAX_KEY} characters"
            if (refused := self._refusal_of(request)) is not None:
                return refused
        return None

    def _refusal_of(self, request: object) -> str | None:
        kind = kind_of(request)
        if kind is None:
            return "asked for input of a kind the gateway does not know"
        if kind not in self.kinds:
            return f"asked for {kind}, which is not granted for this call"
        params = request.get("params") if isinstance(request, Mapping) else None
        if kind == "sampling" and isinstance(params, Mapping):
            if params.get("includeContext", "none") != "none":
                return "asked for sampling with context from other servers"
            if not self.sampling_tools and (params.get("tools") or params.get("toolChoice") is not None):
                return "asked for sampling with tools, which is not granted for this call"
        return None


def relayed(result: Mapping[str, Any]) -> dict[str, Any]:
    """The members of an admitted ``InputRequiredResult`` the agent receives, as the upstream sent
    them (its ``_meta`` is the upstream's own and stays with it)."""
    return {k: result[k] for k in ("resultType", "inputRequests", "requestState") if k in result}


def retry_refusal(params: Mapping[str, Any]) -> str | None:
    """Why an agent's ``tools/call`` may not carry its ``inputResponses`` and ``requestState``
    upstream (None: it may). Both come from the agent, however the upstream made them."""
    state, responses = params.get("requestState"), params.get("inputResponses")
    if state is not None and (not isinstance(state, str) or len(state) > MAX_REQUEST_STATE):
        return f"requestState must be a string of at most {MAX_REQUEST_STATE} characters"
    if responses is not None and (not isinstance(responses, Mapping) or len(responses) > MAX_INPUT_REQUESTS):
        return f"inputResponses must be a map of at most {MAX_INPUT_REQUESTS} responses"
    return None
