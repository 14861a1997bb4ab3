"""Clocks the fakes and the code under test share: real time, or a virtual clock that only moves
when someone sleeps (so throttling waits cost no real time)."""

from __future__ import annotations

import threading
import time


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class VirtualClock:
    """now() starts at 0 and advances only by sleep(); sleeps are recorded."""

    def __init__(self) -> None:
        self._now = 0.0
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)
            self.sleeps.append(seconds)
