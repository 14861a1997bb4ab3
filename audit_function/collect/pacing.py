"""Request pacing: Resource Graph's per-user quota headers, 429/5xx back-off and the time budget.

Nothing here sleeps directly: ``sleep`` and ``clock`` are injected so tests and the benchmark
can run on a virtual clock.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping

from azure.core.utils import CaseInsensitiveDict

QUOTA_REMAINING = "x-ms-user-quota-remaining"
QUOTA_RESETS_AFTER = "x-ms-user-quota-resets-after"

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 32.0
#: Wait used when the quota is spent but the reset header is missing or says 00:00:00.
QUOTA_FALLBACK_S = 0.5


class BudgetExhausted(Exception):
    """The overall time budget does not allow the next wait or request."""


def parse_hms(value: str | None) -> float | None:
    """'hh:mm:ss' (seconds may have a fraction) -> seconds; None when absent or malformed."""
    if not value:
        return None
    try:
        h, m, s = str(value).strip().split(":")
        total = int(h) * 3600 + int(m) * 60 + float(s)
    except ValueError:
        return None
    return total if total >= 0 else None


def _ci(headers: Mapping[str, str] | None) -> Mapping[str, str]:
    """Header names are case-insensitive: 'retry-after' is 'Retry-After'."""
    if isinstance(headers, CaseInsensitiveDict):
        return headers
    return CaseInsensitiveDict(dict(headers or {}))


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from retry-after-ms / x-ms-retry-after-ms / Retry-After (delta or HTTP date), any case."""
    headers = _ci(headers)
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / 1000.0)
            except ValueError:
                pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Pacer:
    """Decides how long to wait before each request and counts the waits."""

    def __init__(self, *, sleep: Callable[[float], None], clock: Callable[[], float],
                 budget_s: float | None, progress=None, rng: random.Random | None = None) -> None:
        self._sleep, self._clock, self._progress = sleep, clock, progress
        self._rng = rng or random.Random()
        self.deadline = None if budget_s is None else clock() + budget_s
        self._resume_at: float | None = None
        self.throttle_waits = 0
        self.throttle_wait_s = 0.0
        self.retry_waits = 0

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - self._clock()

    def before_request(self) -> None:
        """Wait out a spent quota window, then make sure the budget still allows a request."""
        if self._resume_at is not None:
            wait = self._resume_at - self._clock()
            self._resume_at = None
            if wait > 0:
                self._wait(wait, "quota")
        left = self.remaining()
        if left is not None and left <= 0:
            raise BudgetExhausted()

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read the quota headers of any answer (names in any case); a spent quota delays the next request."""
        headers = _ci(headers)
        try:
            remaining = int(headers.get(QUOTA_REMAINING, ""))
        except ValueError:
            return
        if remaining > 0:
            self._resume_at = None
            return
        resets = parse_hms(headers.get(QUOTA_RESETS_AFTER))
        self._resume_at = self._clock() + (resets if resets else QUOTA_FALLBACK_S)

    def throttled(self, headers: Mapping[str, str], attempt: int) -> None:
        """After a 429: Retry-After if given, else the quota reset time, else jittered back-off."""
        headers = _ci(headers)
        wait = retry_after(headers)
        if wait is None:
            wait = parse_hms(headers.get(QUOTA_RESETS_AFTER)) or None
        if wait is None:
            wait = self.backoff(attempt)
        self._resume_at = None
        self._wait(wait, "throttled")

    def transient(self, headers: Mapping[str, str], attempt: int) -> None:
        """After a 5xx or a dropped connection: Retry-After if given, else jittered back-off."""
        wait = retry_after(headers)
        self.retry_waits += 1
        self._wait(self.backoff(attempt) if wait is None else wait, "retry")

    def backoff(self, attempt: int) -> float:
        """Exponential back-off with 'equal jitter': half fixed, half random; attempt starts at 1."""
        ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _wait(self, seconds: float, reason: str) -> None:
        left = self.remaining()
        if left is not None and seconds >= left:
            raise BudgetExhausted()
        if reason != "retry":
            self.throttle_waits += 1
            self.throttle_wait_s += seconds
        if self._progress is not None:
            self._progress("wait", reason=reason, seconds=round(seconds, 3))
        self._sleep(seconds)
