"""Run logging the Function emits: one ``EVENT key=value ...`` line per milestone.

The message text is the contract (Application Insights stores it in ``traces.message``); the
same fields also go in ``extra`` (``kvaudit_event``, ``kvaudit``) for handlers that keep them.
Format and alert queries: infra/README.md, "Logs and alerts".
"""

from __future__ import annotations

import logging
import re
from typing import Any, Mapping

RUN_START = "KVAUDIT_RUN_START"
RUN_COMPLETE = "KVAUDIT_RUN_COMPLETE"
RUN_FAILED = "KVAUDIT_RUN_FAILED"
TIMER_PAST_DUE = "KVAUDIT_TIMER_PAST_DUE"
PROGRESS = "KVAUDIT_PROGRESS"
TICKETS = "KVAUDIT_TICKETS"

#: Severities always present in the summary line (0 when absent), in this order.
from audit_function.vocabulary import SEVERITIES as SUMMARY_SEVERITIES  # noqa: E402

_BARE = re.compile(r"^[A-Za-z0-9_.,/:@+-]*$")


def format_value(value: Any) -> str:
    """``true``/``false`` for booleans, bare words as they are, anything else double-quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    text = str(value)
    if text and _BARE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def format_event(event: str, fields: Mapping[str, Any]) -> str:
    return " ".join([event, *(f"{key}={format_value(value)}" for key, value in fields.items())])


def log_event(logger: logging.Logger, level: int, event: str, fields: Mapping[str, Any]) -> str:
    line = format_event(event, fields)
    logger.log(level, line, extra={"kvaudit_event": event, "kvaudit": dict(fields)})
    return line


def summary_fields(report: Mapping[str, Any], *, exit_code: int, duration_s: float,
                   published: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of the one-per-run ``KVAUDIT_RUN_COMPLETE`` line, in a fixed order."""
    run = report.get("run") or {}
    summary = report.get("summary") or {}
    by_severity = {str(k).lower(): v for k, v in (summary.get("bySeverity") or {}).items()}
    fields: dict[str, Any] = {
        "run_id": run.get("id"),
        "source": run.get("source"),
        "complete": bool(run.get("complete")),
        "exit_code": exit_code,
        "vaults": summary.get("vaults", 0),
        "findings": summary.get("findings", 0),
    }
    for severity in SUMMARY_SEVERITIES:
        fields[severity] = by_severity.pop(severity, 0)
    for severity in sorted(by_severity):  # any other severity the rules use (e.g. info)
        fields[re.sub(r"[^a-z0-9_]", "_", severity)] = by_severity[severity]
    fields["gaps"] = len(run.get("gaps") or ())
    fields["not_evaluated"] = len(run.get("notEvaluated") or ())
    fields["duration_s"] = round(float(duration_s), 3)
    fields["report"] = _dated_json(published)
    return fields


def _dated_json(published: list[str] | tuple[str, ...]) -> str | None:
    """Where the run's own JSON report went (not the latest/ copy)."""
    for location in published:
        if location.endswith(".json") and "/latest/" not in location.replace("\\", "/"):
            return location
    return published[0] if published else None


class ProgressLogger:
    """A ``progress`` callback for run_audit: logs each call as a ``KVAUDIT_PROGRESS`` line.

    Accepts whatever run_audit passes (a stage name and/or keyword counts) and adds the seconds
    since the run started, so slow stages show up in the traces.
    """

    def __init__(self, logger: logging.Logger, clock: Any) -> None:
        self.logger = logger
        self.clock = clock
        self.started = clock()

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        fields: dict[str, Any] = {}
        if args:
            fields["stage"] = " ".join(str(a) for a in args)
        fields.update(kwargs)
        fields["elapsed_s"] = round(self.clock() - self.started, 3)
        log_event(self.logger, logging.INFO, PROGRESS, fields)
