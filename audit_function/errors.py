"""Errors that stop a run. Each says what went wrong and where; the CLI maps them to exit 2.

Problems that do *not* stop a run (a malformed row, an unreadable subscription, a rule that
raised) are not exceptions: they become gaps in the report, which then says it is incomplete.
"""

from __future__ import annotations


class KvAuditError(Exception):
    """Root of every error kv-audit raises on purpose."""

    exit_code = 2


class InputError(KvAuditError):
    """A snapshot (or other input file) that cannot be read as a whole."""

    def __init__(self, path: str, reason: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class ConfigError(KvAuditError):
    """Bad settings, options or configuration file."""


class CollectionError(KvAuditError):
    """Live collection could not start or could not read anything at all."""


class SinkError(KvAuditError):
    """A report could not be published (written, uploaded)."""

    exit_code = 2


class PreviousReportUnusable(SinkError):
    """The previous report in the output folder or container is corrupt, cut or not kv-audit's:
    an audit then runs without week-over-week (and says so); ``diff``/``tickets`` stop (exit 2)."""
