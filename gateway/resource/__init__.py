"""The protected resource: RFC 9728 metadata, bearer checks, Origin/Host checks, the MCP endpoint."""
