"""The ``mcp-gateway`` command line: serve, and manage what lives in the configured store."""
