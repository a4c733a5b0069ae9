"""The authorization server: everything an agent asks of the gateway as an OAuth 2.1 server.

routes.py            every HTTP route of this role, built from the wired parts
server_metadata.py   RFC 8414 / OIDC discovery document
tokens/              what is issued and how it is checked: access tokens, revocation,
                     refresh-token families, authorization codes, audiences, requested scopes
exchange/            RFC 8693 token exchange: its rules and its grant at /token
token_endpoint/      POST /token and its grants, form reading, client authentication
                     (secrets and JWT assertions), introspection and revocation endpoints
clients/             registered clients: model, registry, self-described metadata, dynamic
                     registration (RFC 7591/7592), Client ID Metadata Documents, redirect URIs
authorize/           GET /authorize: sign-in (built-in users, federated OIDC), consent, PKCE
"""
