"""Progress lines on the terminal while a command runs (stderr; silent when it is not a terminal)."""

from __future__ import annotations

import sys
import time

from audit_function.quoting import terminal


class Progress:
    """Progress lines on a terminal (stderr); silent when stderr is not a terminal."""

    def __init__(self, stream=None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self._last = 0.0
        self._open = False      # a progress line is on screen without its newline

    def end(self) -> None:
        """End the progress line on screen, if any (before anything else is printed)."""
        if self.enabled and self._open:
            self.stream.write("\n")
            self.stream.flush()
        self._open = False

    def __call__(self, event: str, **fields) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        final = event in ("table", "done", "throttle", "gap") or fields.get("done") is True
        if not final and now - self._last < 0.2:
            return
        self._last = now
        text = fields.get("text")   # an event that words itself ("principals resolved N of M")
        line = (terminal(text) if isinstance(text, str)
                else f"{event} " + " ".join(f"{k}={terminal(v)}" for k, v in fields.items()))
        self.stream.write(f"\r\x1b[K[{now - self.started:6.1f}s] {line}")
        if final:
            self.stream.write("\n")
        self._open = not final
        self.stream.flush()
