"""What every report sink shares: the sink protocol, the names of the files, the publish order.

Where rendered reports go: a local folder (:mod:`~audit_function.sinks.local`, the CLI) or a
Blob Storage container (:mod:`~audit_function.sinks.blob`, the Function). Sinks do I/O only:
they receive finished bytes and never format anything. Both keep the same promise: a failure
raises :class:`~audit_function.errors.SinkError` and never leaves a partial file under a final
name, nor replaces the previous report with part of a new one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Mapping, Protocol

from audit_function.errors import SinkError
from audit_function.vocabulary import StreamedFile

REPORT_JSON = "kv-audit-report.json"
LATEST_PREFIX = "latest"

PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")

CONTENT_TYPES = {
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".sarif": "application/sarif+json",
}


Reopen = Callable[[], Iterable[bytes]]   # a previous run's file as chunks, readable more than once


class ReportSink(Protocol):
    def publish(self, files: Mapping[str, bytes], report: dict) -> list[str]: ...

    def open_previous(self, name: str) -> Reopen | None:
        """The previous run's file ``name`` as chunks, readable twice, as it was when opened
        (None: no such file). Raises SinkError when it exists but cannot be read."""

    def where(self, name: str) -> str:
        """How messages name the file ``name`` of this sink."""


def check_names(files: Mapping[str, bytes]) -> list[str]:
    """File names in publish order: plain names only, the JSON report last."""
    if not files:
        raise SinkError("nothing to publish: no rendered files")
    for name, data in files.items():
        if not PLAIN_NAME.match(name) or ".." in name:
            raise SinkError(f"refusing to publish {name!r}: report file names must be plain names")
        if not isinstance(data, (bytes, bytearray, StreamedFile)):
            raise SinkError(f"refusing to publish {name!r}: expected bytes, got {type(data).__name__}")
    # The JSON report goes last: whoever sees it (the next run, a consumer polling for it) can rely
    # on the other files of the same run being complete already (the state file included).
    return sorted(files, key=lambda n: (n == REPORT_JSON, n))
