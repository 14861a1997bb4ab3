"""Test helpers: a transport that fails chosen uploads, a fast retry policy, small reports."""

from __future__ import annotations

import json
from typing import Callable
from urllib.parse import unquote, urlparse

from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.transport import HttpTransport, RequestsTransport
from azure.storage.blob import ExponentialRetry


def fast_retry(total: int = 2) -> ExponentialRetry:
    """Same policy class as production, no waiting."""
    return ExponentialRetry(initial_backoff=0, increment_base=0, retry_total=total, random_jitter_range=0)


def blob_path(request) -> str:
    """``<container>/<blob>`` of a request URL (Azurite path style: /devstoreaccount1/<container>/<blob>)."""
    parts = unquote(urlparse(request.url).path).lstrip("/").split("/", 1)
    return parts[1] if len(parts) > 1 else ""


class FailingTransport(HttpTransport):
    """Passes requests to a real RequestsTransport, except that it raises a connection error
    for requests matching ``should_fail`` (counted per attempt, so retries see it too)."""

    def __init__(self, should_fail: Callable[[object, int], bool]) -> None:
        self.inner = RequestsTransport(connection_timeout=5, read_timeout=30)
        self.should_fail = should_fail
        self.attempts: list[tuple[str, str]] = []
        self.failed: list[tuple[str, str]] = []

    def send(self, request, **kwargs):
        self.attempts.append((request.method, request.url))
        matching = sum(1 for m, u in self.attempts if (m, u) == (request.method, request.url))
        if self.should_fail(request, matching):
            self.failed.append((request.method, request.url))
            raise ServiceRequestError("simulated network failure during upload")
        return self.inner.send(request, **kwargs)

    def open(self):
        self.inner.open()

    def close(self):
        self.inner.close()

    def __enter__(self):
        self.inner.__enter__()
        return self

    def __exit__(self, *args):
        self.inner.__exit__(*args)


def fail_put_of(suffix: str, times: int | None = None) -> Callable[[object, int], bool]:
    """Fail every PUT (or the first ``times`` attempts) whose blob path ends with ``suffix``."""

    def should_fail(request, attempt: int) -> bool:
        if request.method != "PUT" or not blob_path(request).endswith(suffix):
            return False
        return times is None or attempt <= times

    return should_fail


def sample_report(run_id: str = "run-0001", started_at: str = "2025-03-10T06:00:01Z", *,
                  complete: bool = True, high: int = 1) -> dict:
    return {
        "schemaVersion": "2.0",
        "run": {"id": run_id, "startedAt": started_at, "finishedAt": started_at, "source": "demo",
                "scope": {}, "complete": complete,
                "gaps": [] if complete else [{"scope": "/subscriptions/x", "table": "vaults", "reason": "denied"}],
                "notEvaluated": []},
        "summary": {"vaults": 2, "findings": high + 2, "bySeverity": {"high": high, "medium": 1, "low": 1},
                    "byRule": {}},
        "vaults": [],
        "findings": [],
    }


def sample_files(report: dict) -> dict[str, bytes]:
    return {
        "kv-audit-report.json": json.dumps(report, sort_keys=True).encode(),
        "kv-audit-report.xlsx": b"PK\x03\x04 not really a workbook " + report["run"]["id"].encode(),
    }


def previous_of(sink):
    """What the next run reads from ``sink``: its state file, else its report (None: nothing yet)."""
    from audit_function.history.state import load_previous

    return load_previous(sink)[0]
