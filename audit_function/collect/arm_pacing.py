"""Pacing for ARM reads shared by a few worker threads: ARM's remaining-reads headers, 429/5xx back-off
(Retry-After honoured, headers read case-insensitively) and the time budget.

ARM throttles reads with a token bucket per subscription/tenant and principal (bucket 250, refilled
25 per second) and reports what is left in ``x-ms-ratelimit-remaining-subscription-reads`` /
``x-ms-ratelimit-remaining-tenant-reads`` (and ``...-global-reads``) on every answer; a 429 carries
Retry-After. https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from audit_function.collect.pacing import BudgetExhausted, Pacer, retry_after

REMAINING_PREFIX = "x-ms-ratelimit-remaining-"
#: When the bucket is empty: one second refills 25 tokens.
EMPTY_BUCKET_WAIT_S = 1.0


def remaining_reads(headers: Mapping[str, str]) -> int | None:
    """The smallest remaining-reads count among ARM's quota headers (any case); None when absent."""
    counts = []
    for name, value in headers.items():
        lower = str(name).lower()
        if not lower.startswith(REMAINING_PREFIX) or "write" in lower or "delete" in lower:
            continue
        try:
            counts.append(int(str(value).strip()))
        except ValueError:
            continue  # e.g. x-ms-ratelimit-remaining-resource: 'Microsoft.Compute/...;197'
    return min(counts) if counts else None


class _Lower(Mapping):
    """Case-insensitive view of a header mapping (for pacing.retry_after)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._d = {str(k).lower(): v for k, v in headers.items()}

    def __getitem__(self, key):
        return self._d[str(key).lower()]

    def get(self, key, default=None):
        return self._d.get(str(key).lower(), default)

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)


class ArmPacer(Pacer):
    """A Pacer whose quota window is shared by every thread: once ARM says no more than ``reserve``
    reads are left (the requests other workers may have in flight), every worker waits for the
    bucket to refill, not just the one that saw the header."""

    def __init__(self, *, reserve: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.reserve = reserve
        self._lock = threading.Lock()

    def before_request(self) -> None:
        with self._lock:
            wait = None if self._resume_at is None else self._resume_at - self._clock()
            if wait is not None and wait <= 0:
                self._resume_at, wait = None, None
        if wait:
            self._wait(wait, "quota")
        left = self.remaining()
        if left is not None and left <= 0:
            raise BudgetExhausted()

    def observe(self, headers: Mapping[str, str]) -> None:
        left = remaining_reads(headers)
        if left is None or left > self.reserve:
            return
        with self._lock:
            resume = self._clock() + EMPTY_BUCKET_WAIT_S
            if self._resume_at is None or resume > self._resume_at:
                self._resume_at = resume

    def throttled(self, headers: Mapping[str, str], attempt: int) -> None:
        wait = retry_after(_Lower(headers))
        self._wait(self.backoff(attempt) if wait is None else wait, "throttled")

    def transient(self, headers: Mapping[str, str], attempt: int) -> None:
        wait = retry_after(_Lower(headers))
        self._wait(self.backoff(attempt) if wait is None else wait, "retry")

    def backoff(self, attempt: int) -> float:
        with self._lock:
            return super().backoff(attempt)

    def _wait(self, seconds: float, reason: str) -> None:
        left = self.remaining()
        if left is not None and seconds >= left:
            raise BudgetExhausted()
        with self._lock:
            if reason == "retry":
                self.retry_waits += 1
            else:
                self.throttle_waits += 1
                self.throttle_wait_s += seconds
        if self._progress is not None:
            self._progress("wait", reason=reason, seconds=round(seconds, 3))
        self._sleep(seconds)
