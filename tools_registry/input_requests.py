"""Which kinds of input an upstream server may ask of the agents that call its tools.

During a call an MCP server may need something from the agent's side: a question put to the
person (elicitation), a completion from the agent's model (sampling), or the agent's roots. What
a server may ask is part of its registration (``input_requests``); the default is nothing, so a
server registered without a second thought never reaches the person or the model behind an agent.

    [[servers]]
    id = "tickets"
    url = "https://tickets.example/mcp"
    input_requests = ["elicitation", "sampling"]

The kinds:

* ``elicitation`` — a form elicitation: a message and a flat schema of fields the person fills in;
* ``elicitation.url`` — a URL elicitation: the person is sent to a page the upstream chose (a
  sign-in, a payment). Its own kind, never implied by ``elicitation``: a link from an upstream is
  a phishing vector, so only a server trusted with that explicitly may send one;
* ``sampling`` — a completion from the agent's model (the upstream writes the prompt);
* ``roots`` — the agent's roots (file and directory URIs of the agent's host).

An input request reaches an agent only when its kind is allowed here *and* the agent declared the
matching client capability for that request; the upstream is told exactly that intersection.
"""

from __future__ import annotations

from typing import Final

INPUT_REQUEST_KINDS: Final = ("elicitation", "elicitation.url", "sampling", "roots")
"""Every kind an upstream may be allowed, in the order listings print them."""


def allowed_kinds(name: str, value: object) -> tuple[str, ...]:
    """``value`` as a registration's ``input_requests``: known kinds, each once, in canonical order.

    >>> allowed_kinds("input_requests", ["sampling", "elicitation", "sampling"])
    ('elicitation', 'sampling')

    Raises ``ValueError`` naming ``name`` when ``value`` is not a list of known kinds.
    """
    if not isinstance(value, list | tuple):
        raise ValueError(f"{name} must be a list of input request kinds, got {value!r}")
    for kind in value:
        if kind not in INPUT_REQUEST_KINDS:
            known = ", ".join(INPUT_REQUEST_KINDS)
            raise ValueError(f"{name} has {kind!r}, which is not an input request kind ({known})")
    return tuple(kind for kind in INPUT_REQUEST_KINDS if kind in value)


__all__ = ["INPUT_REQUEST_KINDS", "allowed_kinds"]
