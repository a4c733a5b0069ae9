"""What proves the document fetcher's SSRF rules: where names resolve, and whether anything connected.

The fetcher takes a resolver (its seam): :class:`TableResolver` maps test hostnames to the
addresses a test chooses, and records what was asked. :class:`Listener` is a loopback port that
counts the connections made to it: a refused fetch must open none.
"""

from __future__ import annotations

import socket
from typing import cast


class Listener:
    """A loopback listener that counts accepted connections (none may be, for a refused fetch)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]

    def accepted(self) -> int:
        """How many connections arrived since the last call."""
        count = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1

    def close(self) -> None:
        self.sock.close()


class TableResolver:
    """The fetcher's resolver seam, answering from a table; a name not in it does not resolve.

    An entry that is a list of answers is served one per call (the last one repeats): a DNS
    rebinding between the fetcher's check and its connect.
    """

    def __init__(self, table: dict[str, list[str] | list[list[str]]]) -> None:
        self.table = table
        self.calls: list[tuple[str, int]] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        answer = self.table.get(host)
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if answer and isinstance(answer[0], list):
            return list(answer[min(len(self.calls), len(answer)) - 1])
        return list(cast(list[str], answer))
