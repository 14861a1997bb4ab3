"""The writers' streaming base: a writer says how its chunks are made; rendering and streaming follow
(with progress events while a large file is produced)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from audit_function.vocabulary import StreamedFile


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


CHUNK = 1 << 20   # bytes a writer hands over at a time


def batched(pieces: Iterable[bytes], size: int = CHUNK) -> Iterator[bytes]:
    """``pieces`` joined into chunks of about ``size`` bytes (the last may be shorter or empty)."""
    buffer: list[bytes] = []
    held = 0
    for piece in pieces:
        buffer.append(piece)
        held += len(piece)
        if held >= size:
            yield b"".join(buffer)
            buffer, held = [], 0
    yield b"".join(buffer)


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
