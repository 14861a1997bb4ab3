"""What the audit hands to the writers, and what the writers hand to the sinks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AuditResult:
    """The report document plus the per-vault access rows (which are not part of the JSON)."""

    report: dict
    access: Iterable[dict] = field(default=())   # a tuple, or the engine's spool (iterable, sized)
    progress: Callable[..., None] | None = field(default=None, compare=False)   # writers report rows written


class StreamedFile:
    """A rendered file produced chunk by chunk, on demand and as often as asked.

    A report of a million findings is gigabytes of JSON: streamed, it goes from the writer to the
    sink's temporary file without ever being held in memory whole.
    """

    def __init__(self, produce: Callable[[], Iterator[bytes]]) -> None:
        self._produce = produce

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._produce())

    def read_all(self) -> bytes:
        return b"".join(self)


class StreamingWriter:
    """A writer whose bytes come from ``chunks(report)``: ``render`` joins them, ``stream`` hands them
    to a sink on demand (writers do no I/O)."""

    name = filename = ""

    def chunks(self, report: dict) -> Iterator[bytes]:
        raise NotImplementedError

    def render(self, result) -> bytes:
        return b"".join(self.chunks(result.report))

    def stream(self, result) -> StreamedFile:
        """The same bytes as :meth:`render`, produced on demand in chunks (reported to
        ``result.progress`` as they are produced: writing a large report is not silence)."""
        progress = getattr(result, "progress", None)
        if progress is None:
            return StreamedFile(lambda: self.chunks(result.report))
        return StreamedFile(lambda: reporting_bytes(self.chunks(result.report), progress, self.name))


def reporting_bytes(chunks: Iterable[bytes], progress: Callable[..., None], name: str) -> Iterator[bytes]:
    """``chunks`` unchanged, with a ``write`` progress event (``writing NAME: N MB``) per chunk."""
    written = 0
    for chunk in chunks:
        written += len(chunk)
        progress("write", text=f"writing {name}: {written / 1e6:.1f} MB")
        yield chunk
    progress("write", text=f"writing {name}: {written / 1e6:.1f} MB, done", done=True)


def reporting_rows(rows: Iterable, progress: Callable[..., None] | None, label: str, total: int | None = None,
                   every: int = 1000) -> Iterator:
    """``rows`` unchanged, with a ``write`` progress event (``LABEL rows N of M``) every ``every`` rows."""
    if progress is None:
        yield from rows
        return
    of = f" of {total}" if total is not None else ""
    n = 0
    for n, row in enumerate(rows, 1):
        if n % every == 0:
            progress("write", text=f"{label} rows {n}{of}")
        yield row
    progress("write", text=f"{label} rows {n}{of}", done=True)


def as_bytes(payload: bytes | StreamedFile) -> bytes:
    return payload.read_all() if isinstance(payload, StreamedFile) else bytes(payload)


def as_chunks(payload: bytes | StreamedFile) -> Iterator[bytes]:
    if isinstance(payload, StreamedFile):
        yield from payload
    else:
        yield bytes(payload)
