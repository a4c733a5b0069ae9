"""The gateway as a client of the upstream tools: a downstream token per call, and the hop."""
