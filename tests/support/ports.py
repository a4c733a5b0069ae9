"""Loopback ports for the servers the tests start: bound before the server exists, or known closed.

A socket bound here (port 0, the kernel's choice) is handed to uvicorn as is, so a server's URL can
go into the gateway's settings before the server runs, and no other process can take the port in
between.
"""

from __future__ import annotations

import socket


def bound_socket(host: str = "127.0.0.1") -> socket.socket:
    """A listening TCP socket on a free port of ``host``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(512)
    return sock


def free_port() -> int:
    """A loopback port free right now, for a server that binds it itself (redis-server, Node)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def closed_port_url() -> str:
    """An MCP URL on a loopback port nothing listens on."""
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/mcp"
