"""The ticket step: one call that turns a report into tickets (or an import file).

``run_ticket_step(report, settings)`` is what the Function app calls after a run and what
``kv-audit tickets`` calls. ``settings`` is the configuration file's ``tickets`` section
(``sink``, ``groupBy``, ``closeResolved``, ``minSeverity``, ``out``, ``azureDevOps``, ``github``)
plus ``dryRun``; tokens come from the environment only.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from audit_function.errors import ConfigError, SinkError
from audit_function.tickets import export
from audit_function.tickets.azure_devops import AzureDevOpsTracker
from audit_function.tickets.github import GitHubTracker
from audit_function.tickets.model import GROUP_BY, SEVERITY_RANK, plan_tickets
from audit_function.tickets.sync import TicketAction, sync

SINKS = ("azure-devops", "github", "jsonl", "csv")


@dataclass(frozen=True)
class TicketSummary:
    sink: str
    group_by: str
    dry_run: bool
    actions: tuple[TicketAction, ...] = ()
    export: bytes | None = None      # the jsonl/csv content (export sinks)
    out: str | None = None           # where the export was written, if anywhere
    notes: tuple[str, ...] = ()
    requests: int = 0                # HTTP requests sent, retries included
    waited: float = 0.0              # seconds spent waiting on rate limits
    counts: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"sink": self.sink, "groupBy": self.group_by, "dryRun": self.dry_run,
                "counts": dict(self.counts), "out": self.out, "notes": list(self.notes),
                "requests": self.requests, "waited": self.waited,
                "actions": [a.to_dict() for a in self.actions]}

    def render_text(self) -> str:
        verb = "would" if self.dry_run else "did"
        counts = ", ".join(f"{kind} {n}" for kind, n in sorted(self.counts.items()))
        lines = [f"kv-audit tickets ({self.sink}, one per {self.group_by}"
                 f"{', dry run' if self.dry_run else ''}): {counts or 'nothing to do'}"]
        lines += [f"note: {note}" for note in self.notes]
        for action in self.actions:
            if not self.dry_run and (action.kind in ("unchanged", "leave", "export")):
                continue
            ref = f"#{action.ticket}" if action.ticket is not None else "(new)"
            lines.append(f"  {verb} {action.kind:<18} {ref:<8} {_safe(action.title or action.key)}")
        if self.out:
            lines.append(f"{'would write' if self.dry_run else 'wrote'} {self.out}")
        return "\n".join(lines) + "\n"


def run_ticket_step(report: dict, settings: dict, *, env=None, session=None,
                    sleep=time.sleep, clock=time.time) -> TicketSummary:
    """Create, update, comment on and close tickets for ``report``; see docs/tickets.md."""
    settings = dict(settings or {})
    env = os.environ if env is None else env
    sink = str(settings.get("sink") or "").lower()
    if sink not in SINKS:
        raise ConfigError(f"tickets: sink must be one of {', '.join(SINKS)} (got {sink or 'none'})")
    group_by = settings.get("groupBy") or "finding"
    if group_by not in GROUP_BY:
        raise ConfigError(f"tickets: groupBy must be one of {', '.join(GROUP_BY)} (got {group_by})")
    min_severity = settings.get("minSeverity") or "low"
    if min_severity not in SEVERITY_RANK:
        raise ConfigError(f"tickets: minSeverity must be high, medium or low (got {min_severity})")
    close_resolved = bool(settings.get("closeResolved", False))
    dry_run = bool(settings.get("dryRun", False))

    plan = plan_tickets(report, group_by, min_severity)
    notes = []
    if not plan.complete:
        notes.append("the run is incomplete: tickets of findings it could not check are left open")
    if "resolved" not in report:
        notes.append("the report has no week-over-week data; resolution is judged from this "
                     "report alone")

    if sink in ("jsonl", "csv"):
        rows = export.export_rows(plan, include_resolved=close_resolved)
        data = export.render_jsonl(rows) if sink == "jsonl" else export.render_csv(rows)
        out = settings.get("out")
        if out and not dry_run:
            write_atomically(Path(out), data)
        actions = tuple(TicketAction("export", row["fingerprint"], row["summary"])
                        for row in rows)
        return TicketSummary(sink, group_by, dry_run, actions, export=data, out=out,
                             notes=tuple(notes), counts=dict(Counter(a.kind for a in actions)))

    options = {"session": session, "sleep": sleep, "clock": clock}
    if sink == "github":
        tracker = GitHubTracker(settings.get("github") or {}, env, **options)
    else:
        tracker = AzureDevOpsTracker(settings.get("azureDevOps") or {}, env, **options)
    actions = tuple(sync(plan, tracker, close_resolved=close_resolved, dry_run=dry_run))
    return TicketSummary(sink, group_by, dry_run, actions, notes=tuple(notes),
                         requests=tracker.client.calls, waited=tracker.client.waited,
                         counts=dict(Counter(a.kind for a in actions)))


def write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError as e:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:  # a read-only folder: nothing was written there either
            pass
        raise SinkError(f"{path}: cannot write the ticket export: {e.strerror or e}") from e


def _safe(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in str(text))
