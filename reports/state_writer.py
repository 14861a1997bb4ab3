"""The state file's writer (``kv-audit-state.json.gz``): its bytes, as the other writers make theirs.

The layout and the records belong to :mod:`audit_function.history.state` (the next run reads them back
there); this writer only hands them to the sinks as a stream, beside the report's own files.
"""

from __future__ import annotations

from collections.abc import Iterator

from audit_function.history import state
from reports.streaming import StreamingWriter


class StateWriter(StreamingWriter):
    """Writes the state file; like the other writers it produces bytes and does no I/O.

    ``records``: the encoded state records of the run's findings (``History.records``), so the
    findings are not decoded again; without them the report's findings are read."""

    name = "state"
    filename = state.STATE_FILE

    def __init__(self, records=None) -> None:
        self.records = records

    def chunks(self, report: dict) -> Iterator[bytes]:
        return state.state_chunks(report, records=self.records)   # looked up when called (tests cut it)
