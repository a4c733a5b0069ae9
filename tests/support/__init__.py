"""What the tests share: servers they start, clients they play, requests they send.

Nothing here is a test; every test module imports what it needs from here, and no test module
imports another. One concern per module:

The gateway in the test's process
    :mod:`~tests.support.inprocess` the gateway, its app and its clients, no socket; the example
    upstream served beside it; ``http`` pointed at it;
    :mod:`~tests.support.gateway_address` where a gateway is reached, under uvicorn or in process;
    :mod:`~tests.support.streaming_asgi` an httpx2 transport that hands an ASGI app's answer to
    the client as the app sends it (a stream seen event by event, as over a socket).

Servers the tests start
    :mod:`~tests.support.gateway_server` the gateway under uvicorn on a free port;
    :mod:`~tests.support.weather_gateway` the same, with the example weather server behind it;
    :mod:`~tests.support.asgi_server` any other ASGI app (an upstream) the same way;
    :mod:`~tests.support.ports` loopback ports bound in advance, or known closed;
    :mod:`~tests.support.fake_upstream` an upstream MCP server whose failures a test chooses;
    :mod:`~tests.support.asking_upstream` an ``mcp`` SDK upstream whose tools ask the agent for
    input (elicitation, sampling), recording what it was told;
    :mod:`~tests.support.upstream_gateway` a gateway (in process) in front of one such upstream;
    :mod:`~tests.support.raw_asgi` reading a request and sending an answer in raw ASGI;
    :mod:`~tests.support.http_server` ``http.server`` handlers on loopback (documents, redirects);
    :mod:`~tests.support.redirect_target` a client's redirect URI a browser lands on, and a framer;
    :mod:`~tests.support.tls` a throw-away certificate authority;
    :mod:`~tests.support.fetch_probes` the fetcher's resolver seam, a port that counts connections;
    :mod:`~tests.support.token_proxy` a proxy adding a token for the conformance suite;
    :mod:`~tests.support.redis_servers` private Redis deployments (standalone, Cluster, Sentinel);
    :mod:`~tests.support.oidc_idp` a real OpenID provider under Node (``idp/provider.mjs``), and a
    person passing its sign-in and consent forms;
    :mod:`~tests.support.conformance` the official MCP conformance suite as a subprocess;
    :mod:`~tests.support.protected_resource` a stand-in ``/mcp`` for OAuth client libraries;
    :mod:`~tests.support.webhook_receiver` a webhook receiver that verifies what it is sent.

Clients the tests play
    :mod:`~tests.support.http_clients` the HTTP clients tests speak with (``http`` in conftest);
    :mod:`~tests.support.agents` ``private_key_jwt`` agents and their token requests;
    :mod:`~tests.support.browser` a headless person who signs in and consents;
    :mod:`~tests.support.users` users added to the gateway's store, each with that browser;
    :mod:`~tests.support.console` a person at the console (``/admin``), submitting its forms;
    :mod:`~tests.support.authorization_code` a public client's PKCE, ``/authorize`` and redemption;
    :mod:`~tests.support.chromium` Debian's Chromium, for what only a real browser shows;
    :mod:`~tests.support.sdk_clients` the ``mcp`` SDK's OAuth providers, and the browser they need;
    :mod:`~tests.support.mcp_requests` raw MCP requests for both protocol eras;
    :mod:`~tests.support.cli` ``python -m gateway …`` in a process of its own.

The harness of a family of test modules
    :mod:`~tests.support.code_flow` the client ``desk`` of the code-flow and refresh-token rules;
    :mod:`~tests.support.approval_desk` the console's gateway: agents, an approval policy, and a
    security team of people with roles;
    :mod:`~tests.support.client_registration` the registration tests' gateway (``world``, through
    ``pytest_plugins``), the documents clients publish, registration requests.

What the gateway answers
    :mod:`~tests.support.oauth_errors` OAuth error answers and error pages;
    :mod:`~tests.support.tokens` access tokens read, or verified against the published JWKS.

Inside the gateway
    :mod:`~tests.support.gateway_tokens` tokens signed with the gateway's own keys;
    :mod:`~tests.support.gateway_loop` code run, tokens signed, on the running gateway's own loop.
"""
