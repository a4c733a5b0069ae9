"""The authorization server: metadata, JWKS, /token, introspection, revocation."""
