"""MCP authorization gateway: an OAuth 2.1 authorization server, a protected MCP endpoint, and the
client that carries each tool call upstream with a downscoped token."""
