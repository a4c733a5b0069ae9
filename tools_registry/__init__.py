"""The catalogue of upstream MCP servers and their tools. It never imports the gateway."""
