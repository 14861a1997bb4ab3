"""First-screen lines of the terminal summary: what was not examined, and where to start."""

from __future__ import annotations

from collections.abc import Iterator

from audit_function.findings import fix_first_findings


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
        who = f.get("principalName") or f.get("principalId")
        what = f.get("vaultName") or f.get("roleName") or f.get("assignmentId") or f.get("subscriptionId")
        if f["subject"] == "grant" and who:
            what = f"{f.get('roleName') or 'grant'} held by {who} at {f.get('scope')}"
        yield f"    {f['severity']:<6} {f['ruleId']}: {what}{reach}"
