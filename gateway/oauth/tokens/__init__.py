"""What the authorization server issues and how it is checked again: access tokens (RFC 9068),
the revocation list, refresh-token families, authorization codes, audiences and requested scopes."""
