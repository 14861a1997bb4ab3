"""A zip entry compressed by a worker thread while the sheet's rows are still being made.

Deflating the sheets' XML is about a fifth of the work of a big workbook. zlib (and crc32) release
the GIL while they work, so a second thread compresses one chunk while the writer builds the next:
on a machine with a free core that work leaves the wall time (the CPU time stays the same).

``DeflatingPipe(handle)`` is a binary stream (what openpyxl's XML writer wraps) in front of a zip
entry opened for writing (``ZipFile.open(name, "w")``). Writes are gathered into chunks of about
``CHUNK`` bytes, at most ``DEPTH`` chunks wait for the worker (memory stays bounded), and
``close()`` hands over the rest, waits for the worker and closes the entry. An error in the worker
is raised in the writer at its next write or at ``close()``; the worker keeps draining the queue
after one, so the writer can never block on a full queue. ``splice(segment)`` puts a segment
another process deflated (``reports/xlsx_parts.py``) into the entry after what was written so far.
"""

from __future__ import annotations

import io
import queue
import threading

from .xlsx_parts import can_splice, splice

CHUNK = 1 << 20
DEPTH = 8


class DeflatingPipe(io.BufferedIOBase):
    def __init__(self, handle, chunk: int = CHUNK, depth: int = DEPTH):
        super().__init__()
        self._handle = handle
        self._chunk = chunk
        self._parts: list[bytes] = []
        self._held = 0
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._worker = threading.Thread(target=self._run, name="xlsx-deflate", daemon=True)
        self._worker.start()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self._error is not None:
            raise self._error
        data = bytes(data)
        self._parts.append(data)
        self._held += len(data)
        if self._held >= self._chunk:
            self._queue.put(b"".join(self._parts))
            self._parts, self._held = [], 0
        return len(data)

    def can_splice(self) -> bool:
        return can_splice(self._handle)

    def splice(self, segment) -> None:
        """``segment`` (an ``xlsx_parts.Segment``) goes into the entry here, in write order."""
        if self._error is not None:
            raise self._error
        if self._parts:
            self._queue.put(b"".join(self._parts))
            self._parts, self._held = [], 0
        self._queue.put(segment)

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._parts:
                self._queue.put(b"".join(self._parts))
                self._parts, self._held = [], 0
            self._queue.put(None)
            self._worker.join()
            if self._error is not None:
                raise self._error
            self._handle.close()
        finally:
            super().close()

    def _run(self) -> None:
        while True:
            chunk = self._queue.get()
            if chunk is None:
                return
            if self._error is not None:
                close = getattr(getattr(chunk, "handle", None), "close", None)
                if close is not None:   # a segment left unspliced: its temporary file goes now
                    close()
            else:
                try:
                    if type(chunk) is bytes:
                        self._handle.write(chunk)
                    else:
                        splice(self._handle, chunk)
                except BaseException as error:  # handed to the writer; keep draining
                    self._error = error
