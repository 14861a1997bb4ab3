"""Reading a local previous run's file for week over week: chunks of one file, readable twice."""

from __future__ import annotations

import os
from pathlib import Path


def file_chunks(path: Path):
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            yield chunk


class PinnedFile:
    """The chunks of one file as it was when opened, as often as asked: the descriptor stays open,
    so a concurrent run replacing the file (a rename) between the previous report's two reading
    passes does not mix two reports. Raises FileNotFoundError like ``open``."""

    def __init__(self, path: Path) -> None:
        self._handle = open(path, "rb")  # noqa: SIM115 - kept open for the second pass

    def __call__(self):
        offset = 0
        while chunk := os.pread(self._handle.fileno(), 1 << 20, offset):
            offset += len(chunk)
            yield chunk

    def __del__(self) -> None:
        getattr(self, "_handle", None) and self._handle.close()


def checked(path: Path):
    """Without pread: the file read anew on each pass (FileNotFoundError now if it is absent)."""
    path.stat()
    return lambda: file_chunks(path)
