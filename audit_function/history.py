"""Week over week: what is new, what persists, what was fixed, and what could not be checked.

Findings are matched across runs by ``fingerprint`` only. A finding present last time and absent
now is *resolved* only when the current run actually read the place it lived in: a finding under
a scope the current run could not read (a gap in ``run.gaps``) or for a rule the run could not
evaluate on that vault (``run.notEvaluated``) is carried forward as *unverified*. An incomplete
run never makes a finding look fixed.

Gap coverage is conservative:
- a gap whose scope is ``/``, empty, or not under ``/subscriptions/`` (a management group, the
  tenant) covers every finding;
- a gap in a table that is not read per subscription (``role_definitions``,
  ``management_groups``, or any table not listed in ``PER_SUBSCRIPTION_TABLES``) covers every
  finding, because those rows decide findings in every subscription;
- otherwise a gap covers a finding whose vault id, assignment id or ``/subscriptions/<id>`` equals
  the gap scope or lies under it (case-insensitive, prefix ending at ``/``).
"""

from __future__ import annotations

import copy
import unicodedata

from audit_function.previous import PreviousIndex
from audit_function.report import SCHEMA_VERSION

#: reports of another major schema version key their findings by other subjects (catalog 1: 1.x)
SCHEMA_MAJOR = SCHEMA_VERSION.split(".")[0]

PER_SUBSCRIPTION_TABLES = frozenset({"vaults", "role_assignments", "subscriptions",
                                     # listed per subscription too (collect/arm_authorization.py, ARG)
                                     "role_eligibilities", "deny_assignments", "lighthouse_delegations",
                                     "resource_groups"})
BRIEF_FIELDS = ("fingerprint", "ruleId", "severity", "title", "vaultId", "vaultName",
                "subscriptionId", "resourceGroup", "principalId", "assignmentId", "principalName", "owner")


class History:
    """Week-over-week status, one finding at a time (as the engine produces them), then resolved.

    ``started``: this run's start (``firstSeen`` of new findings).
    """

    def __init__(self, previous, started: str | None) -> None:
        """``previous``: a :class:`~audit_function.previous.PreviousIndex`, a report dict, or None."""
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
        self.persisting = 0

    def decorate(self, finding: dict) -> None:
        position = self.positions.get(finding.get("fingerprint")) if self.positions else None
        if position is None:
            finding["status"] = "new"
            finding["firstSeen"] = self.started
            self.new += 1
        else:
            self.seen[position] = 1
            finding["status"] = "persisting"
            finding["firstSeen"] = self.firsts[position] or self.started
            self.persisting += 1

    def state(self) -> dict:
        """What :meth:`decorate` counted (a worker process hands it to the parent)."""
        return {"seen": bytes(self.seen), "new": self.new, "persisting": self.persisting}

    def merge(self, state: dict) -> None:
        seen = state["seen"]
        if any(seen):
            self.seen = bytearray(a | b for a, b in zip(self.seen, seen))
        self.new += state["new"]
        self.persisting += state["persisting"]

    def finish(self, report: dict) -> None:
        run = report.get("run") or {}
        gaps = run.get("gaps") or []
        not_evaluated = run.get("notEvaluated") or []
        gone = {fp for fp, n in self.positions.items() if not self.seen[n]}
        details = self.previous.details(gone)
        resolved, unverified = [], []
        for fingerprint in gone:
            old = details.get(fingerprint) or {"fingerprint": fingerprint}
            last_seen = self.previous.last_seen.get(fingerprint, self.previous.started)
            first_seen = old.get("firstSeen") or last_seen
            if is_unread(old, gaps, not_evaluated):
                carried = {k: v for k, v in old.items() if k not in ("status", "firstSeen", "lastSeen")}
                carried.update(status="unverified", firstSeen=first_seen, lastSeen=last_seen)
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
        report["resolved"] = resolved
        report["unverified"] = unverified
        if self.ignored:
            report.setdefault("run", {})["weekOverWeek"] = {"used": False, "reason": self.ignored}
        summary = report.setdefault("summary", {})
        summary["new"] = self.new
        summary["persisting"] = self.persisting
        summary["resolved"] = len(resolved)
        summary["unverified"] = len(unverified)


def apply_previous(report: dict, previous: dict | None) -> None:
    """Compare ``report`` with the previous report and record the result in ``report``.

    Each finding gets ``status`` (``new`` | ``persisting``) and ``firstSeen``;
    ``report["resolved"]`` and ``report["unverified"]`` are set; the summary gains ``new``,
    ``persisting``, ``resolved`` and ``unverified`` counts.
    """
    history = History(previous, _started(report))
    for finding in report.get("findings", []):
        history.decorate(finding)
    history.finish(report)


def _started(report: dict | None) -> str | None:
    return ((report or {}).get("run") or {}).get("startedAt")


def _order(finding: dict) -> tuple:
    return (str(finding.get("ruleId") or ""), str(finding.get("vaultId") or "").lower(),
            str(finding.get("fingerprint") or ""))


def is_unread(finding: dict, gaps: list[dict], not_evaluated: list[dict]) -> bool:
    """True when the run's gaps or not-evaluated list mean ``finding`` may exist unseen."""
    if any(gap_covers(gap, finding) for gap in gaps):
        return True
    rule, vault = finding.get("ruleId"), str(finding.get("vaultId") or "").lower()
    for entry in not_evaluated:
        rule_ok = entry.get("ruleId") in (None, "", "*", rule)
        vault_ok = not entry.get("vaultId") or str(entry["vaultId"]).lower() == vault
        if rule_ok and vault_ok:
            return True
    return False


def gap_covers(gap: dict, finding: dict) -> bool:
    """True when a gap (``{scope, table, reason}``) may hide ``finding``. Conservative."""
    table = gap.get("table")
    if table and table not in PER_SUBSCRIPTION_TABLES:
        return True
    scope = str(gap.get("scope") or "").strip().lower().rstrip("/")
    if not scope.startswith("/subscriptions/"):
        return True
    places = [finding.get("vaultId"), finding.get("assignmentId")]
    if finding.get("subscriptionId"):
        places.append(f"/subscriptions/{finding['subscriptionId']}")
    places = [str(p).lower() for p in places if p]
    if not places:
        return True
    return any(p == scope or p.startswith(scope + "/") for p in places)


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
    """Estate text is data: drop control characters so it cannot drive the terminal."""
    text = "" if value is None else str(value)
    return "".join("?" if unicodedata.category(c) == "Cc" else c for c in text)
