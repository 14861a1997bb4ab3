"""The terminal summary of ``kv-audit audit``: counts of open (unsuppressed) findings, what was not
examined, where to start, the suppressions that need attention and why ``--fail-on`` failed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from itertools import islice

from audit_function.engine.findings import fix_first_findings
from audit_function.quoting import terminal

#: suppressions and failing findings listed by name before "… and N more"
SHOWN = 5


def coverage_lines(report: dict) -> list[str]:
    """Sources not (fully) read, so "no finding" is never mistaken for "not examined"."""
    coverage = report["run"].get("coverage") or []
    missing = [c for c in coverage if c["state"] != "collected"]
    if not missing:
        return [f"  coverage: all {len(coverage)} data sources read"] if coverage else []
    lines = [f"  coverage: {len(coverage) - len(missing)} of {len(coverage)} data sources read; "
             f"not examined (run.coverage says what each hides):"]
    for c in missing:
        lines.append(f"    - {c['source']}: {c['state']}")
    return lines


def fix_first_lines(report: dict, limit: int = 5) -> Iterator[str]:
    """The top of ``summary.fixFirst``: severity, rule, what to fix, how far it reaches."""
    first = fix_first_findings(report, limit)
    if first:
        yield "  fix first:"
    for f in first:
        affected = f.get("affected")
        reach = f" ({affected['vaults']} vaults)" if affected else ""
        yield f"    {f['severity']:<6} {f['ruleId']}: {where(f)}{reach}"


def where(f: dict) -> str:
    """What a finding is about, by name: the vault, or the grant and who holds it."""
    who = f.get("principalName") or f.get("principalId")
    what = f.get("vaultName") or f.get("roleName") or f.get("assignmentId") or f.get("subscriptionId") or "-"
    if f.get("subject") == "grant" and who:
        what = f"{f.get('roleName') or 'grant'} held by {who} at {f.get('scope')}"
    elif who and f.get("vaultName"):
        what = f"{what} (principal {who})"
    return str(what)


def count_line(summary: dict) -> str:
    """``N vaults, M findings: K open (high …), S suppressed``: the counts are of open findings."""
    open_ = summary.get("bySeverityUnsuppressed") or summary["bySeverity"]
    sev = ", ".join(f"{k} {v}" for k, v in open_.items())
    hsms = f" and {summary['managedHsms']} Managed HSM pools" if summary.get("managedHsms") else ""
    suppressed = summary.get("suppressed") or 0
    return (f"kv-audit: {summary['vaults']} vaults{hsms}, {summary['findings']} findings: "
            f"{sum(open_.values())} open ({sev}), {suppressed} suppressed")


def suppression_lines(suppressions: dict | None) -> Iterator[str]:
    """Expired suppressions (their findings are open again) and unused ones (they match nothing)."""
    suppressions = suppressions or {}
    for key, heading, detail in (
            ("expired", "expired suppression(s), their findings count as open again: renew or remove",
             lambda s: f"expired {s['expires']}, would match {s.get('wouldMatch', 0)}"),
            ("unused", "unused suppression(s), matching nothing this run: remove or correct",
             lambda s: f"expires {s['expires']}")):
        entries = suppressions.get(key) or []
        if not entries:
            continue
        yield f"  {len(entries)} {heading}:"
        for s in entries[:SHOWN]:
            yield f"    - {s['id']} (rule {s['ruleId']}, owner {s.get('owner')}, {detail(s)})"
        if len(entries) > SHOWN:
            yield f"    … and {len(entries) - SHOWN} more (report: suppressions.{key})"


def failing_lines(failing) -> Iterator[str]:
    """Why the exit status is 1: the count at or above ``--fail-on`` and the first few findings."""
    if failing is None:
        return
    yield (f"  exit 1: {failing.count} open finding(s) at {failing.fail_on} severity or above (--fail-on "
           f"{failing.fail_on}); the first:")
    for f in failing.first[:SHOWN]:
        yield f"    {f.get('severity', '-'):<6} {f.get('ruleId')}: {where(f)}"
    if failing.count > min(SHOWN, len(failing.first)):
        yield f"    … and {failing.count - min(SHOWN, len(failing.first))} more in the report"


def print_summary(outcome, out=None, err=None) -> None:
    out, err = out or sys.stdout, err or sys.stderr
    report = outcome.result.report
    summary, run = report["summary"], report["run"]

    def say(line: str, stream=out) -> None:
        print(terminal(line), file=stream)

    say(count_line(summary))
    for line in (*coverage_lines(report), *fix_first_lines(report)):
        say(line)
    for line in suppression_lines(outcome.suppressions if outcome.suppressions is not None
                                  else report.get("suppressions")):
        say(line, err)
    if run.get("weekOverWeek"):
        say(f"  warning: {run['weekOverWeek']['reason']}", err)
    not_done = len(run.get("notEvaluated") or ())
    if run["complete"]:
        say("  complete: every scope read and every rule evaluated" if not not_done else
            f"  complete: every scope read; {not_done} rule evaluation(s) not done (listed under run.notEvaluated)")
    else:
        say(f"  INCOMPLETE: {len(run['gaps'])} gap(s), {not_done} rule evaluation(s) not done; the report lists "
            "them under run.gaps and run.notEvaluated", err)
        for gap in run["gaps"][:5]:
            line = f":{gap['line']}" if gap.get("line") is not None else ""
            at = f" ({gap['file']}{line})" if gap.get("file") else ""
            say(f"    - {gap['scope']}: {gap['reason']}{at}", err)
    readiness = {k: v for k, v in summary.get("migrationReadiness", {}).items() if v}
    if readiness:
        from audit_function.migration import summarize

        counts = ", ".join(f"{k} {v}" for k, v in readiness.items())
        say(f"  migration readiness of {sum(readiness.values())} access-policy vault(s): {counts}")
        shown = list(islice(report["migration"], 10))
        for line in summarize(shown):
            say(f"    {line}")
        if sum(readiness.values()) > len(shown):
            say("    … the rest in the report's migration section (kv-audit plan writes the commands)")
    for location in outcome.published:
        say(f"  wrote {location}")
    for line in failing_lines(outcome.failing):
        say(line, err)
