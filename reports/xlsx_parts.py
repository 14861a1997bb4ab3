"""A big table's rows made by forked processes and spliced into its one worksheet entry.

A 100,000-vault workbook is about 100 s of Python making cell XML, nine tenths of it on four
tables (Findings alone is over half). Rows of a table do not depend on each other: row ``n`` of a
page is the same XML whichever process writes it, given its row number, because the link cap is
by row (the first ``max_links`` rows of a page get their hyperlinks, ``xlsx_table.PagedSheet``)
and the cell styles are registered before any process forks. So the items of a big table are
cut into contiguous runs; the parent writes the first run into the sheet as usual while forked
processes write the others (run ``k`` starting at the row its predecessors end on), each as a
deflate segment in a temporary file, with the run's hyperlinks and counts. The parent then
splices the segments into the sheet's archive entry, in order.

Splicing, and why the result is an ordinary zip entry:

* A segment is a raw deflate stream from a fresh compressor ended with ``Z_SYNC_FLUSH``: whole
  blocks, none of them final, ending on a byte boundary, with no back-reference to anything
  before it. The parent's own compressor is flushed with ``Z_FULL_FLUSH`` before a segment goes
  in (its later blocks cannot refer back across the segment either). Deflate blocks written one
  after the other are one deflate stream; the entry's final block comes from the parent at
  ``close``.
* The entry's CRC-32 is the CRC of the whole XML: ``crc32_combine`` folds a segment's CRC in from
  its CRC and length (zlib's combination, which Python's ``zlib`` does not expose).
* The writing handle is ``zipfile``'s own (``ZipFile.open(name, "w")``): the local header, zip64
  fields and central directory stay its work. Splicing adds to its running CRC and sizes, which are
  private attributes; ``can_splice`` checks they are there, and without them tables are written by
  one process, as before.

A run that fails in its process (it raised, was killed, or would not fit on the first page) is
written by the parent itself, from its items, when its turn comes: parallelism changes the time,
never the workbook. ``tests/reports/test_xlsx_parts.py`` compares parallel and single-process
workbooks cell by cell and link by link, and checks every entry's CRC.
"""

from __future__ import annotations

import gc
import io
import os
import pickle
import signal
import struct
import sys
import tempfile
import traceback
import zlib
from dataclasses import dataclass, field

MIN_RUN_ROWS = 20_000     # a table is cut in runs only when every run gets at least this many items
LEVEL = 1                 # deflate level of the whole workbook: ~3x faster than zlib's default 6 for ~15 % more bytes
_SPLICE_ATTRS = ("_compressor", "_crc", "_file_size", "_compress_size", "_fileobj")
_TRAILER = struct.Struct("<Q")

# ---- CRC-32 of concatenated data --------------------------------------------------------------
# The CRC register is linear over GF(2): appending n zero bytes to data multiplies its register by
# a fixed 32x32 bit matrix, and crc(a + b) = zeros(len(b)) . crc(a)  xor  crc(b) (the pre- and
# post-conditioning of zlib's CRC cancel in that sum). A matrix is kept as 32 column words; n zero
# bytes are applied by squaring the one-byte matrix along n's binary digits.
_POLY = 0xEDB88320   # CRC-32 (IEEE 802.3), bit-reflected, as zlib computes it


def _times(matrix: list[int], vector: int) -> int:
    out, bit = 0, 0
    while vector:
        if vector & 1:
            out ^= matrix[bit]
        vector >>= 1
        bit += 1
    return out


def _product(a: list[int], b: list[int]) -> list[int]:
    """The matrix of applying ``b`` and then ``a``."""
    return [_times(a, column) for column in b]


def _zero_byte() -> list[int]:
    bit = [_POLY] + [1 << n for n in range(31)]   # one zero bit: shift right, xor POLY if bit 0 was set
    two = _product(bit, bit)
    four = _product(two, two)
    return _product(four, four)


_ZERO_BYTE = _zero_byte()


def crc32_combine(crc_a: int, crc_b: int, length_b: int) -> int:
    """``zlib.crc32(a + b)`` from ``crc32(a)``, ``crc32(b)`` and ``len(b)``."""
    matrix, register = _ZERO_BYTE, crc_a
    while length_b > 0:
        if length_b & 1:
            register = _times(matrix, register)
        length_b >>= 1
        if length_b:
            matrix = _product(matrix, matrix)
    return register ^ crc_b


# ---- the segment a run makes (child side) ------------------------------------------------------

class SegmentSink(io.BufferedIOBase):
    """Where a run's worksheet writes: bytes written while ``recording`` (its rows) are deflated
    into ``fd``; everything else (the sheet's head, which openpyxl's machinery writes before the
    rows) is dropped. ``stop()`` ends the segment."""

    def __init__(self, fd: int, level: int = LEVEL):
        super().__init__()
        self.fd = fd
        self.recording = False
        self.crc = self.size = self.compressed = 0
        self._z = zlib.compressobj(level, zlib.DEFLATED, -15)

    # the binary-stream surface the XML writer's text wrapper needs
    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self.recording:
            self.crc = zlib.crc32(data, self.crc)
            self.size += len(data)
            self._put(self._z.compress(data))
        return len(data)

    def stop(self) -> None:
        """The run's rows are all written: end the segment."""
        self.recording = False
        self._put(self._z.flush(zlib.Z_SYNC_FLUSH))   # byte-aligned, no final block

    def _put(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        self.compressed += len(data)


@dataclass
class Segment:
    """A finished run: its deflated rows in ``handle`` (bytes 0 to ``compressed``) and what the sheet
    needs to know of them."""
    handle: object                  # the temporary file
    compressed: int
    crc: int
    size: int
    rows: int
    links: list = field(default_factory=list)   # (cell reference, url), in row order
    links_dropped: int = 0
    state: object = None            # (first row, the table's side results, cleaner counts): xlsx_runs._run

    def chunks(self, size: int = 1 << 20):
        fd, offset = self.handle.fileno(), 0
        while offset < self.compressed:
            chunk = os.pread(fd, min(size, self.compressed - offset), offset)
            if not chunk:
                raise OSError("a table segment ended early")
            offset += len(chunk)
            yield chunk


def can_splice(handle) -> bool:
    """Whether ``handle`` (a ``ZipFile.open(name, "w")`` handle) is zipfile's writer as we know it."""
    return all(hasattr(handle, name) for name in _SPLICE_ATTRS) and isinstance(handle._crc, int)


def splice(handle, segment: Segment) -> None:
    """Append ``segment`` to the entry ``handle`` is writing (see the module docstring)."""
    out = handle._fileobj
    pending = handle._compressor.flush(zlib.Z_FULL_FLUSH)   # no back-reference across the segment
    out.write(pending)
    handle._compress_size += len(pending)
    try:
        for chunk in segment.chunks():
            out.write(chunk)
    finally:
        segment.handle.close()
    handle._compress_size += segment.compressed
    handle._crc = crc32_combine(handle._crc, segment.crc, segment.size)
    handle._file_size += segment.size


# ---- running the runs ----------------------------------------------------------------------------

def workers() -> int:
    """Processes for a big table: ``KV_AUDIT_WORKERS`` when set, else one per CPU (at most 4);
    1 where there is no ``fork``."""
    from audit_function.engine.parallel import configured_workers

    if not hasattr(os, "fork"):
        return 1
    configured = configured_workers()
    if configured is not None:
        return configured
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 4))


def runs(count: int, processes: int, min_rows: int | None = None) -> list[tuple[int, int]]:
    """``count`` items cut into contiguous (start, stop) runs, one per process, at least
    ``min_rows`` (default ``MIN_RUN_ROWS``) items each (fewer runs when there are not enough)."""
    min_rows = MIN_RUN_ROWS if min_rows is None else min_rows
    processes = max(1, min(processes, count // max(1, min_rows)))
    size = -(-count // processes) if count else 0
    return [(start, min(count, start + size)) for start in range(0, count, size)] if size else [(0, 0)]


class RunFailed(Exception):
    """A run could not be made in its process (the parent makes it instead)."""


def start(make, fd_handle) -> int:
    """Fork a process that calls ``make(fd)`` (which returns the ``Segment`` fields as a dict) and
    appends the result, pickled, to ``fd_handle``'s file; its pid."""
    # Ctrl-C / SIGTERM are held back across the fork: the child only takes them inside its ``try``
    # (a signal between fork and try would unwind the child through the parent's code).
    held = {signal.SIGINT, signal.SIGTERM}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        pid = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise
    if pid:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        return pid
    code = 1
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        gc.disable()   # short-lived acyclic rows only; the collector would copy the parent's pages
        fd = fd_handle.fileno()
        meta = pickle.dumps(make(fd), protocol=pickle.HIGHEST_PROTOCOL)
        data = memoryview(meta + _TRAILER.pack(len(meta)))
        while data:
            data = data[os.write(fd, data):]
        code = 0
    except KeyboardInterrupt:   # Ctrl-C or SIGTERM: the parent reports it
        code = 130
    except RunFailed as err:
        print(f"kv-audit: spreadsheet run left to the parent process: {err}", file=sys.stderr)
    except BaseException:  # noqa: BLE001 - reported; the parent writes the run itself
        traceback.print_exc(file=sys.stderr)
    finally:
        os._exit(code)


def collect(pid: int, handle) -> Segment | None:
    """Wait for run process ``pid``; its segment, or None when it failed."""
    from audit_function.engine.parallel import wait_all

    if wait_all([pid]):
        return None
    try:
        fd = handle.fileno()
        end = os.fstat(fd).st_size
        (length,) = _TRAILER.unpack(os.pread(fd, _TRAILER.size, end - _TRAILER.size))
        meta = pickle.loads(os.pread(fd, length, end - _TRAILER.size - length))
        segment = Segment(handle=handle, **meta)
    except (OSError, ValueError, TypeError, EOFError, struct.error, pickle.UnpicklingError) as err:
        print(f"kv-audit: a spreadsheet run's result could not be read ({err}); writing it in this process",
              file=sys.stderr)
        return None
    if segment.compressed + length + _TRAILER.size != end:
        print("kv-audit: a spreadsheet run's result is incomplete; writing it in this process", file=sys.stderr)
        return None
    return segment


def temporary():
    return tempfile.TemporaryFile(prefix="kv-audit-xlsx-run-")  # noqa: SIM115 - closed by the caller
