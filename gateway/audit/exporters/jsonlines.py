"""JSON lines: one exported event per line (:mod:`gateway.audit.exporters.records`), to a file the
gateway rotates by size, or to standard output for a log shipper that reads it.

The file is written and rotated here rather than by ``logging.handlers.RotatingFileHandler``: that
handler reports a failed write to ``handleError`` (a line on stderr) instead of to its caller, so a
full disk would look like a delivery, and it creates files with the umask's mode. Here a batch is
appended and ``fsync``-ed before it counts as delivered (an error is :class:`ExportFailed`, and the
batch is written again later); files are created owner-only (0600, in a 0700 folder it creates).
When the next batch would take the file past ``max_bytes``, the files shift (``audit.jsonl`` ->
``audit.jsonl.1`` -> ``audit.jsonl.2`` …) and the one past ``keep`` is deleted, as
``RotatingFileHandler`` does; a batch is never split across two files.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import anyio.to_thread

from gateway.audit.chain import StoredEvent
from gateway.audit.exporters.core import ExportFailed
from gateway.audit.exporters.records import exported

STDOUT = "-"


def _lines(batch: Sequence[StoredEvent]) -> bytes:
    return "".join(exported(stored).line + "\n" for stored in batch).encode("utf-8")


class JsonLinesFile:
    """A :class:`~gateway.audit.exporters.core.Sink` appending to ``path``, rotated by size."""

    def __init__(self, path: str, *, max_bytes: int, keep: int) -> None:
        self.path = Path(path)
        self._max_bytes = max_bytes
        self._keep = keep

    async def deliver(self, batch: Sequence[StoredEvent]) -> None:
        data = _lines(batch)
        try:
            await anyio.to_thread.run_sync(self._append, data)
        except OSError as exc:
            raise ExportFailed(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def _append(self, data: bytes) -> None:
        for folder in reversed([d for d in (self.path.parent, *self.path.parent.parents) if not d.exists()]):
            folder.mkdir(mode=0o700, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            if self.path.stat().st_size and self.path.stat().st_size + len(data) > self._max_bytes:
                self._rotate()
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            written = 0
            while written < len(data):
                written += os.write(descriptor, data[written:])
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def _rotate(self) -> None:
        """``path.keep`` goes, every ``path.n`` becomes ``path.n+1``, ``path`` becomes ``path.1``."""

        def numbered(n: int) -> Path:
            return self.path.with_name(f"{self.path.name}.{n}")

        with contextlib.suppress(FileNotFoundError):
            numbered(self._keep).unlink()
        for n in range(self._keep - 1, 0, -1):
            with contextlib.suppress(FileNotFoundError):
                numbered(n).rename(numbered(n + 1))
        if self._keep:
            self.path.rename(numbered(1))
        else:
            self.path.unlink()

    async def close(self) -> None:
        return None


class JsonLinesStream:
    """A sink writing to a text stream (standard output by default) and flushing each batch."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def deliver(self, batch: Sequence[StoredEvent]) -> None:
        stream = self._stream or sys.stdout
        try:
            stream.write(_lines(batch).decode("utf-8"))
            stream.flush()
        except (OSError, ValueError) as exc:  # a closed pipe, a closed stream
            raise ExportFailed(f"cannot write to standard output: {exc}") from None

    async def close(self) -> None:
        return None
