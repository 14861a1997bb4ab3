"""The access export (format ``access``): ``kv-audit-access.jsonl.gz``.

One JSON object per line, one line per vault x principal x source with Key Vault data access in
either permission model: the same rows as the spreadsheet's Access sheet (built once, by
``audit_function.access.rows.access_rows``, during the vault pass). Report 2 keeps per-(vault,
principal) access out of the findings; this file is where it lives. Findings refer to it by vault
id and principal id (``evidence.accessExport``).

The rows are gzip-compressed as they stream (``mtime`` 0, so two runs of the same estate give the
same bytes); nothing is held whole. Bytes only: the sink writes and publishes the file.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

from audit_function import depth
from audit_function.vocabulary import StreamedFile
from reports.streaming import batched

FILENAME = "kv-audit-access.jsonl.gz"


def _lines(rows) -> Iterator[bytes]:
    encoded = getattr(rows, "lines", None)   # the engine's spool stores rows already encoded
    if encoded is not None:
        yield from encoded()
    else:
        for row in rows:
            yield depth.dumps(row)


def gzip_lines(rows: Iterable) -> Iterator[bytes]:
    """The rows as gzip-compressed JSON lines, in chunks of about a megabyte of input."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)   # wbits 31: gzip container, header mtime 0
    for chunk in batched(line + b"\n" for line in _lines(rows)):
        out = packer.compress(chunk)
        if out:
            yield out
    yield packer.flush()


class AccessWriter:
    name = "access"
    filename = FILENAME

    def render(self, result) -> bytes:
        return b"".join(gzip_lines(result.access))

    def stream(self, result) -> StreamedFile:
        return StreamedFile(lambda: gzip_lines(result.access))
