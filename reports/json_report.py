"""The JSON report writer: the machine interface (SIEM ingestion, tickets, diffs).

Layout: one top-level key per line, and inside ``findings``, ``vaults``, ``migration``,
``resolved`` and ``unverified`` one element per line, so the file streams into line-oriented
tools and diffs cleanly. Elements are encoded one at a time (orjson), so a report of a million
findings is produced in chunks and never held in memory whole.
"""

from __future__ import annotations

from collections.abc import Iterator

from audit_function import depth
from reports.streaming import StreamingWriter, batched

_LISTS_ONE_PER_LINE = ("vaults", "findings", "migration", "resolved", "unverified")


def _dump(value) -> bytes:
    return depth.dumps(value)


def iter_document(report: dict) -> Iterator[bytes]:
    """The document as byte chunks of about a megabyte."""
    buffer: list[bytes] = [b"{\n"]
    first_key = True
    for key, value in report.items():
        buffer.append((b" " if first_key else b",\n ") + _dump(key) + b": ")
        first_key = False
        one_per_line = key in _LISTS_ONE_PER_LINE and value
        if one_per_line and (hasattr(value, "json_body") or isinstance(value, list)):
            buffer.append(b"[\n")
            yield b"".join(buffer)
            buffer = []
            if hasattr(value, "json_body"):   # spooled elements are stored in their final form: copy them
                yield from value.json_body()
            else:
                last = len(value) - 1
                yield from batched(b"  " + _dump(item) + (b",\n" if i < last else b"\n")
                                   for i, item in enumerate(value))
            buffer.append(b" ]")
        else:
            buffer.append(_dump(value))
    buffer.append(b"\n}\n")
    yield b"".join(buffer)


class JsonWriter(StreamingWriter):
    name = "json"
    filename = "kv-audit-report.json"

    def chunks(self, report: dict) -> Iterator[bytes]:
        return iter_document(report)
