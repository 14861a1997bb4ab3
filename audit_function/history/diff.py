"""Week over week: what is new, what persists, what was fixed, and what could not be checked.

Findings are matched across runs by ``fingerprint`` only. A finding present last time and absent
now is *resolved* only when the current run actually read the place it lived in: a finding under
a scope the current run could not read (a gap in ``run.gaps``) or for a rule the run could not
evaluate on that vault (``run.notEvaluated``) is carried forward as *unverified*. An incomplete
run never makes a finding look fixed.

Which findings a gap covers is decided in :mod:`audit_function.history.gaps`.
"""

from __future__ import annotations

import copy
import os
import tempfile
from dataclasses import dataclass, field

from audit_function import quoting
from audit_function.history.gaps import GapCoverage, gap_covers, is_unread  # noqa: F401 - re-exported
from audit_function.history.previous import PreviousIndex
from audit_function.report.document import SCHEMA_VERSION
from audit_function.engine.findings import Spool
from audit_function.history.state import encode_record, trend_entry, trend_with

#: reports of another major schema version key their findings by other subjects (catalog 1: 1.x)
SCHEMA_MAJOR = SCHEMA_VERSION.split(".")[0]

BRIEF_FIELDS = ("fingerprint", "ruleId", "severity", "title", "vaultId", "vaultName",
                "subscriptionId", "resourceGroup", "principalId", "assignmentId", "principalName", "owner")


class History:
    """Week-over-week status, one finding at a time (as the engine produces them), then resolved.

    ``started``: this run's start (``firstSeen`` of new findings). :meth:`mark` returns the fields
    a finding gains (the store keeps them); :meth:`result` returns the report's sections.
    """

    def __init__(self, previous, started: str | None) -> None:
        """``previous``: a :class:`~audit_function.history.previous.PreviousIndex`, a report dict, or None."""
        if not isinstance(previous, PreviousIndex):
            previous = PreviousIndex.from_report(previous)
        self.ignored = None
        if previous.schema and previous.schema.split(".")[0] != SCHEMA_MAJOR:
            # a catalog-1 report (schema 1.x): its fingerprints name other subjects,
            # so nothing in it can be persisting or resolved; say so instead of resolving all of it
            self.ignored = ("the previous report is from catalog 1 (schema 1.x): its findings are keyed by other "
                            "subjects, so this run starts week over week afresh")
            previous = PreviousIndex.from_report(None)
        self.previous = previous
        self.started = started
        self.positions, self.firsts = previous.positions, previous.firsts
        self.seen = bytearray(len(self.firsts))     # seen[position] = 1: the finding is still there
        self.new = 0
        self.new_open = 0                           # new and not suppressed (the trend counts these)
        self.persisting = 0
        self.records = Spool()                      # this run's state record per finding (state.py)
        self._pid = os.getpid()

    def mark(self, finding: dict) -> dict:
        """``status`` and ``firstSeen`` of ``finding`` (suppressions are marked before)."""
        position = self.positions.get(finding.get("fingerprint")) if self.positions else None
        if position is None:
            self.new += 1
            self.new_open += not finding.get("suppressed")
            fields = {"status": "new", "firstSeen": self.started}
        else:
            self.seen[position] = 1
            self.persisting += 1
            fields = {"status": "persisting", "firstSeen": self.firsts[position] or self.started}
        if self._pid != os.getpid():   # a forked worker: its own records only, handed over by state()
            self.records, self._pid = Spool(), os.getpid()
        self.records.append_encoded(encode_record(finding, fields["firstSeen"]))
        return fields

    def branch(self) -> History:
        """A copy that counts from nothing, for a part evaluated beside this one in the same process
        (parallel.py); :meth:`merge` of its :meth:`state` adds it back, as a worker's would."""
        other = copy.copy(self)
        other.seen = bytearray(len(self.firsts))
        other.new = other.new_open = other.persisting = 0
        other.records = Spool()
        return other

    def state(self, path: str | None = None) -> dict:
        """What :meth:`mark` counted (a worker process hands it to the parent); the state records
        go to the file ``path`` (the workers' private folder), else to a new temporary file."""
        if path is None:
            fd, path = tempfile.mkstemp(prefix="kv-audit-state-records-")
            os.close(fd)
        return {"seen": bytes(self.seen), "new": self.new, "new_open": self.new_open, "persisting": self.persisting,
                "records": self.records.export(path)}

    def merge(self, state: dict) -> None:
        if state.get("records"):
            self.records.absorb(state["records"])
            os.unlink(state["records"]["path"])   # still open for reading
        seen = state["seen"]
        if any(seen):
            self.seen = bytearray(a | b for a, b in zip(self.seen, seen))
        self.new += state["new"]
        self.new_open += state["new_open"]
        self.persisting += state["persisting"]

    def result(self, coverage: GapCoverage, open_by_severity: dict | None = None,
               audited_subscriptions: frozenset | None = None) -> WeekOverWeek:
        """``resolved`` and ``unverified`` (what ``coverage``, the run's gaps, hides stays
        unverified; so does a finding of a subscription this run did not audit at all —
        ``audited_subscriptions``, lower-cased ids: a narrower scope or a subscription the identity no
        longer sees proves nothing fixed), the counts, and the trend with this run appended
        (``open_by_severity``: unsuppressed findings by severity)."""
        gone = {fp for fp, n in self.positions.items() if not self.seen[n]}
        details = self.previous.details(gone)
        resolved, unverified = [], []
        for fingerprint in gone:
            old = details.get(fingerprint) or {"fingerprint": fingerprint}
            last_seen = self.previous.last_seen.get(fingerprint, self.previous.started)
            first_seen = old.get("firstSeen") or last_seen
            outside = _outside(old, audited_subscriptions)
            if outside or coverage.hides(old):
                carried = {k: v for k, v in old.items() if k not in ("status", "firstSeen", "lastSeen")}
                carried.update(status="unverified", firstSeen=first_seen, lastSeen=last_seen)
                if outside:
                    carried["unverifiedBecause"] = "its subscription was not audited by this run"
                unverified.append(carried)
            else:
                resolved.append({
                    **{k: old.get(k) for k in BRIEF_FIELDS},
                    "firstSeen": first_seen,
                    "lastSeen": last_seen,
                    "evidence": old.get("evidence"),
                    "suppressed": bool(old.get("suppressed")),
                })
        resolved.sort(key=_order)
        unverified.sort(key=_order)
        entry = trend_entry(self.started, open_by_severity or {}, self.new_open,
                            sum(1 for r in resolved if not r["suppressed"]))
        return WeekOverWeek(resolved=resolved, unverified=unverified, new=self.new, persisting=self.persisting,
                            note={"used": False, "reason": self.ignored} if self.ignored else None,
                            trend=trend_with(self.previous.trend, entry))


def _outside(finding: dict, audited: frozenset | None) -> bool:
    """True when ``finding`` belongs to a subscription that is not among ``audited``."""
    sub = finding.get("subscriptionId")
    return audited is not None and isinstance(sub, str) and bool(sub) and sub.lower() not in audited


@dataclass
class WeekOverWeek:
    """The report's week-over-week sections, as :meth:`History.result` returns them."""

    resolved: list[dict]
    unverified: list[dict]
    new: int
    persisting: int
    note: dict | None = None       # run.weekOverWeek, when the previous run could not be used
    trend: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        return {"new": self.new, "persisting": self.persisting, "resolved": len(self.resolved),
                "unverified": len(self.unverified)}


def apply_previous(report: dict, previous: dict | None) -> None:
    """Compare an in-memory ``report`` with the previous one and record the result in it (``diff``,
    tests; a run's own report gets these sections from :func:`audit_function.report.document.build_report`).

    Each finding gets ``status`` (``new`` | ``persisting``) and ``firstSeen``;
    ``report["resolved"]`` and ``report["unverified"]`` are set; the summary gains ``new``,
    ``persisting``, ``resolved`` and ``unverified`` counts.
    """
    history = History(previous, _started(report))
    for finding in report.get("findings", []):
        finding.update(history.mark(finding))
    run = report.get("run") or {}
    week = history.result(GapCoverage(run.get("gaps") or [], run.get("notEvaluated") or []),
                          (report.get("summary") or {}).get("bySeverityUnsuppressed"))
    report["resolved"] = week.resolved
    report["unverified"] = week.unverified
    if week.note:
        report.setdefault("run", {})["weekOverWeek"] = week.note
    report.setdefault("summary", {}).update(week.summary())


def _started(report: dict | None) -> str | None:
    return ((report or {}).get("run") or {}).get("startedAt")


def _order(finding: dict) -> tuple:
    return (str(finding.get("ruleId") or ""), str(finding.get("vaultId") or "").lower(),
            str(finding.get("fingerprint") or ""))


def diff_reports(old: dict, new: dict) -> dict:
    """The week-over-week comparison of any two reports, without changing either."""
    report = copy.deepcopy(new)
    apply_previous(report, old)
    old_by_fp = {f.get("fingerprint"): f for f in old.get("findings") or []}
    findings = report.get("findings", [])
    severity_changed, now_suppressed, no_longer_suppressed = [], [], []
    for finding in findings:
        before = old_by_fp.get(finding.get("fingerprint"))
        if before is None:
            continue
        if before.get("severity") != finding.get("severity"):
            severity_changed.append(dict(_brief(finding), previousSeverity=before.get("severity")))
        if finding.get("suppressed") and not before.get("suppressed"):
            now_suppressed.append(dict(_brief(finding), suppression=finding.get("suppression")))
        if before.get("suppressed") and not finding.get("suppressed"):
            no_longer_suppressed.append(
                dict(_brief(finding), previousSuppression=before.get("suppression")))
    result = {
        "from": _run_ref(old),
        "to": _run_ref(new),
        "new": [_brief(f) for f in findings if f["status"] == "new"],
        "persisting": [_brief(f) for f in findings if f["status"] == "persisting"],
        "resolved": report["resolved"],
        "unverified": [dict(_brief(f), lastSeen=f.get("lastSeen")) for f in report["unverified"]],
        "severityChanged": severity_changed,
        "nowSuppressed": now_suppressed,
        "noLongerSuppressed": no_longer_suppressed,
    }
    result["summary"] = {key: len(result[key]) for key in (
        "new", "persisting", "resolved", "unverified", "severityChanged", "nowSuppressed",
        "noLongerSuppressed")}
    return result


def _brief(finding: dict) -> dict:
    brief = {k: finding.get(k) for k in BRIEF_FIELDS}
    brief["firstSeen"] = finding.get("firstSeen")
    brief["suppressed"] = bool(finding.get("suppressed"))
    return brief


def _run_ref(report: dict) -> dict:
    run = report.get("run") or {}
    return {"runId": run.get("id"), "startedAt": run.get("startedAt"),
            "complete": run.get("complete"), "gaps": len(run.get("gaps") or [])}


def render_diff_text(diff: dict) -> str:
    """Plain-text rendering of ``diff_reports`` output, for the terminal."""
    old, new, counts = diff["from"], diff["to"], diff["summary"]
    lines = [
        f"kv-audit diff: run {_safe(old['runId'])} ({_safe(old['startedAt'])})"
        f" -> run {_safe(new['runId'])} ({_safe(new['startedAt'])})",
        f"new {counts['new']}, persisting {counts['persisting']}, resolved {counts['resolved']}, "
        f"unverified {counts['unverified']}",
    ]
    if new.get("complete") is False:
        lines.append(f"the newer run is incomplete ({new['gaps']} gap(s)): findings in scopes it "
                     "could not read are listed as unverified, not resolved")
    sections = (("New", "new"), ("Resolved", "resolved"), ("Unverified", "unverified"),
                ("Severity changed", "severityChanged"), ("Now suppressed", "nowSuppressed"),
                ("No longer suppressed", "noLongerSuppressed"), ("Persisting", "persisting"))
    for heading, key in sections:
        entries = diff[key]
        if not entries:
            continue
        lines += ["", f"{heading} ({len(entries)})"]
        for entry in entries:
            lines.append(_line(entry, key))
    return "\n".join(lines) + "\n"


def _line(entry: dict, key: str) -> str:
    where = entry.get("vaultName") or entry.get("vaultId") or entry.get("assignmentId") or "-"
    text = f"  {str(entry.get('severity') or '-'):<7} {entry.get('ruleId') or '-':<28} " \
           f"{_safe(where)}: {_safe(entry.get('title') or '')}"
    if entry.get("principalId"):
        name = entry.get("principalName")
        text += f" [principal {_safe(name)} ({_safe(entry['principalId'])})]" if name \
            else f" [principal {_safe(entry['principalId'])}]"
    if entry.get("owner"):
        text += f" [owner {_safe(entry['owner'])}]"
    if key == "resolved":
        text += f" (last seen {_safe(entry.get('lastSeen'))})"
    elif key == "unverified":
        text += f" (last seen {_safe(entry.get('lastSeen'))}, scope not read this run)"
    elif key == "severityChanged":
        text += f" (was {_safe(entry.get('previousSeverity'))})"
    elif key == "nowSuppressed":
        suppression = entry.get("suppression") or {}
        text += f" (by {_safe(suppression.get('id'))} until {_safe(suppression.get('expires'))})"
    elif key == "noLongerSuppressed":
        suppression = entry.get("previousSuppression") or {}
        text += (f" (was {_safe(suppression.get('id'))}, "
                 f"expires {_safe(suppression.get('expires'))})")
    elif entry.get("suppressed"):
        text += " [suppressed]"
    return text


def _safe(value: object) -> str:
    """Estate text is data: shown escaped (the terminal rule: no control character, escape sequence
    or bidi override raw), so it cannot drive the terminal."""
    return quoting.terminal("" if value is None else str(value))
