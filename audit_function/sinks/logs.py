"""Microsoft Sentinel / Log Analytics: rows sent through the Logs Ingestion API. I/O only.

:class:`SentinelSink` uploads finished rows (built by :mod:`reports.sentinel_rows`) with
``azure-monitor-ingestion``'s ``LogsIngestionClient.upload``: the library splits a list into
gzip-compressed requests of at most 1 MB, and azure-core retries 429 (honouring ``Retry-After``)
and 5xx. What the library does not do, this does:

- a request refused with 413 (payload too large) is split in half and each half sent again,
  down to a single row;
- every batch that still fails (``on_error``) is counted, never dropped silently: :meth:`send`
  returns it as a gap (``{"scope": "logs-ingestion:<stream>", "table": ..., "reason": ...}``)
  and :func:`forward_report` records it in ``run.gaps``, so the run is ``complete: false`` and
  the Blob / folder report, still written, says what did not reach the workspace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from typing import Any

from reports.sentinel_rows import TABLES

#: rows handed to one ``upload`` call (the library then makes <= 1 MB requests of them)
BATCH_ROWS = 5_000
DEFAULT_STREAMS = {key: stream for key, (_, stream, _) in TABLES.items()}


def _status(error: BaseException) -> int | None:
    return getattr(error, "status_code", None) or getattr(getattr(error, "response", None), "status_code", None)


def _reason(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


class SentinelSink:
    """Sends rows to the data collection rule's streams; returns failures as gaps."""

    def __init__(self, client: Any, rule_id: str, streams: Mapping[str, str] | None = None, *,
                 batch_rows: int = BATCH_ROWS) -> None:
        self.client = client
        self.rule_id = rule_id
        self.streams = {**DEFAULT_STREAMS, **(streams or {})}
        self.batch_rows = batch_rows
        self.sent: dict[str, int] = {}

    @classmethod
    def create(cls, endpoint: str, rule_id: str, credential: Any, streams: Mapping[str, str] | None = None,
               **client_kwargs: Any) -> "SentinelSink":
        """The real client: ``endpoint`` is the data collection endpoint's logs ingestion URL."""
        from azure.monitor.ingestion import LogsIngestionClient

        client_kwargs.setdefault("retry_total", 5)
        client = LogsIngestionClient(endpoint=endpoint, credential=credential, **client_kwargs)
        return cls(client, rule_id, streams)

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()

    def send(self, table: str, rows: Iterable[dict]) -> list[dict]:
        """Upload ``rows`` to the stream of ``table`` (``findings``, ``vaults``, ``runs``); gaps for what failed."""
        stream = self.streams[table]
        failed: list[tuple[BaseException, int]] = []
        total = 0
        iterator = iter(rows)
        batch: list[dict] = []
        try:
            while batch := list(islice(iterator, self.batch_rows)):
                total += len(batch)
                self._upload(stream, batch, failed)
                batch = []
        except Exception as err:  # noqa: BLE001 - anything else (bad client, bad rows) is a gap too
            rest = sum(1 for _ in iterator)
            total += rest
            failed.append((err, len(batch) + rest))
        lost = sum(n for _, n in failed)
        self.sent[table] = self.sent.get(table, 0) + total - lost
        if not failed:
            return []
        first, _ = failed[0]
        return [{"scope": f"logs-ingestion:{stream}", "table": TABLES[table][0] if table in TABLES else table,
                 "reason": f"{lost} of {total} row(s) not ingested ({len(failed)} failed batch(es)); "
                           f"first error: {_reason(first)}"}]

    def _upload(self, stream: str, logs: list[dict], failed: list) -> None:
        errors: list = []
        self.client.upload(rule_id=self.rule_id, stream_name=stream, logs=logs, on_error=errors.append)
        for error in errors:
            chunk = list(error.failed_logs)
            if _status(error.error) == 413 and len(chunk) > 1:
                half = len(chunk) // 2
                self._upload(stream, chunk[:half], failed)
                self._upload(stream, chunk[half:], failed)
            else:
                failed.append((error.error, len(chunk)))


def forward_report(report: dict, sink: SentinelSink, *, rows: Callable[[dict], Mapping[str, Iterable[dict]]] | None = None,
                   run_rows: Callable[[dict], list[dict]] | None = None) -> list[dict]:
    """Send findings and vaults, then the run row; every failure becomes a gap in ``report["run"]``.

    The run row is built after the other uploads, so it names their gaps; if it fails itself, that
    is a gap too (in the JSON report, which is written after this).
    """
    from reports import sentinel_rows

    rows = rows or sentinel_rows.data_rows
    run_rows = run_rows or sentinel_rows.run_rows
    gaps: list[dict] = []
    for table, table_rows in rows(report).items():
        gaps += sink.send(table, table_rows)
    _add_gaps(report, gaps)
    run_gaps = sink.send("runs", run_rows(report))
    _add_gaps(report, run_gaps)
    return gaps + run_gaps


def _add_gaps(report: dict, gaps: list[dict]) -> None:
    if not gaps:
        return
    run = report.setdefault("run", {})
    run["gaps"] = [*(run.get("gaps") or []), *gaps]
    run["complete"] = False
