"""An example agent: obtain an access token with client_credentials + private_key_jwt.

    python examples/get_token.py --client-id demo-agent --key var/demo-agent.pem

It signs a client assertion (RFC 7523) with its private key, posts it to the token endpoint
found in the gateway's RFC 8414 metadata, and prints the token's claims (never the token).
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from pathlib import Path

import httpx
import jwt

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issuer", default="http://127.0.0.1:8000")
    parser.add_argument("--client-id", default="demo-agent")
    parser.add_argument("--key", default="var/demo-agent.pem", help="the agent's private key (PEM)")
    parser.add_argument("--scope", default=None)
    args = parser.parse_args()

    metadata = httpx.get(f"{args.issuer}/.well-known/oauth-authorization-server").json()
    now = int(time.time())
    assertion = jwt.encode(
        {
            "iss": args.client_id,
            "sub": args.client_id,
            "aud": metadata["issuer"],
            "iat": now,
            "exp": now + 60,
            "jti": str(uuid.uuid4()),
        },
        Path(args.key).read_text(),
        algorithm="ES256",
        headers={"typ": "client-authentication+jwt"},
    )
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
    }
    if args.scope:
        form["scope"] = args.scope
    response = httpx.post(metadata["token_endpoint"], data=form)
    if response.status_code != 200:
        raise SystemExit(f"token request refused: {response.status_code} {response.text}")
    token = response.json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    print(json.dumps({"expires_in": response.json()["expires_in"], "claims": claims}, indent=2))


if __name__ == "__main__":
    main()
