"""The HTML summary writer (``kv-audit-report.html``): one self-contained page a reviewer skims first.

Run status and coverage come first (an incomplete run is a red banner at the top), then the
fix-first list, the trend over past runs (``summary.trend``, an SVG line chart and its table),
counts by severity and rule, summary tables by severity, rule, owner and subscription (the same
pandas-built rows as the spreadsheet's, :mod:`reports.summary_tables`), vaults by permission model
and exposure, migration readiness, and a searchable, sortable findings table. Everything is in the one file: inline CSS
and script (their SHA-256 hashes are the only sources the page's Content-Security-Policy allows,
with ``default-src 'none'``, so opening it fetches nothing), charts drawn as inline SVG by
:mod:`reports.html_charts`. Templates are jinja2 with autoescape on: every name, tag and message
from the estate is escaped. Large estates: the findings table stops at :data:`TABLE_CAP` rows
with a visible marker pointing to the JSON report. No file-system or network I/O at render time
(templates are read once, from the package, when the writer is created).
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from importlib import resources

from audit_function.vocabulary import AuditResult
from reports.html_charts import bar_chart, css_class, line_chart
from reports.summary_tables import TREND_FIELDS, Tally, trend_label, trend_points

TABLE_CAP = 5_000
FIX_FIRST_CAP = 25
LIST_CAP = 200
MIGRATION_CAP = 1_000
PAGE_SIZE = 250          # table rows laid out at a time (the rest are hidden until paged to)
from audit_function.vocabulary import SEVERITIES, SEVERITY_RANK as _RANK  # noqa: E402
READINESS = ("ready", "needs-assignments", "review-latent-grants", "blocked")


def _asset(name: str) -> str:
    return resources.files("reports").joinpath("templates", name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def subject_label(finding: dict) -> str:
    """What the finding is about, in words a reviewer recognises."""
    subject = finding.get("subject")
    if finding.get("vaultName") or (subject == "vault" and finding.get("vaultId")):
        return finding.get("vaultName") or str(finding.get("vaultId")).rsplit("/", 1)[-1]
    if subject == "roleDefinition" or (not finding.get("assignmentId") and finding.get("roleDefinitionId")):
        return f"role {finding.get('roleName') or finding.get('roleDefinitionId')}"
    if finding.get("assignmentId"):
        role = finding.get("roleName") or "role"
        return f"{role} at {finding.get('scope') or finding['assignmentId']}"
    if finding.get("subscriptionId"):
        return f"subscription {finding['subscriptionId']}"
    return "-"


def principal_label(finding: dict) -> str:
    name, pid = finding.get("principalName"), finding.get("principalId")
    if name and pid:
        return f"{name} ({pid})"
    return name or pid or ""


def _row(finding: dict) -> dict:
    severity = str(finding.get("severity") or "")
    status = "suppressed" if finding.get("suppressed") else str(finding.get("status") or "")
    affected = finding.get("affected") or {}
    return {
        "severity": severity, "rank": _RANK.get(severity, 9), "sev_class": css_class(severity),
        "rule": finding.get("ruleId") or "", "subject": subject_label(finding),
        "principal": principal_label(finding), "principal_type": finding.get("principalType") or "",
        "user_type": finding.get("userType") or "",
        "owner": finding.get("owner") or "", "status": status,
        "vaults": affected.get("vaults") if isinstance(affected, dict) else None,
        "message": finding.get("message") or finding.get("title") or "",
        "fingerprint": finding.get("fingerprint") or "",
    }


def _scan_findings(report: dict, tally: Tally) -> tuple[list[dict], list[dict], int]:
    """One pass: the table rows (capped), the fix-first rows, and how many findings there are.
    Every finding is read once (a million-finding spool too): ``tally`` gathers the columns of
    the summary tables on the way."""
    wanted = [fp for fp in ((report.get("summary") or {}).get("fixFirst") or []) if isinstance(fp, str)]
    wanted_set = set(wanted[:FIX_FIRST_CAP])
    rows, fix, fallback, seen = [], {}, [], 0
    for finding in report.get("findings") or ():
        seen += 1
        tally.add(finding)
        if seen <= TABLE_CAP:
            rows.append(_row(finding))
        fp = finding.get("fingerprint")
        if fp in wanted_set:
            fix[fp] = _row(finding)
        elif not wanted_set and len(fallback) < FIX_FIRST_CAP and not finding.get("suppressed"):
            fallback.append(_row(finding))
    ordered = [fix[fp] for fp in wanted[:FIX_FIRST_CAP] if fp in fix] if wanted_set else fallback
    return rows, ordered, seen


def _vault_matrix(report: dict) -> tuple[list[str], list[dict]]:
    """Vault counts by permission model x network exposure (from the vault inventory)."""
    exposures = ("public", "firewalled", "private")
    counts: Counter = Counter()
    for vault in report.get("vaults") or ():
        counts[(vault.get("permissionModel") or "unknown", vault.get("networkExposure") or "unknown")] += 1
    models = sorted({m for m, _ in counts}, key=lambda m: ("rbac", "accessPolicy").index(m) if m in ("rbac", "accessPolicy") else 9)
    extra = sorted({e for _, e in counts if e not in exposures})
    columns = [*exposures, *extra]
    return columns, [{"model": m, "cells": [counts.get((m, e), 0) for e in columns],
                      "total": sum(counts.get((m, e), 0) for e in columns)} for m in models]


def _migration_rows(report: dict) -> tuple[list[dict], int]:
    rows, total = [], 0
    for entry in report.get("migration") or ():
        total += 1
        if total <= MIGRATION_CAP:
            reasons = entry.get("reasons") or []
            rows.append({"vault": entry.get("vaultName") or str(entry.get("vaultId") or "").rsplit("/", 1)[-1],
                         "readiness": entry.get("readiness") or "", "cls": css_class(entry.get("readiness") or ""),
                         "entries": len(entry.get("entries") or ()), "reason": reasons[0] if reasons else "",
                         "more": max(len(reasons) - 1, 0)})
    return rows, total


def build_context(report: dict) -> dict:
    run = report.get("run") or {}
    summary = report.get("summary") or {}
    tally = Tally()
    rows, fix_first, total = _scan_findings(report, tally)
    gaps = list(run.get("gaps") or ())
    not_evaluated = list(run.get("notEvaluated") or ())
    coverage = [c for c in (run.get("coverage") or ()) if isinstance(c, dict)]
    by_severity = summary.get("bySeverity") or Counter(r["severity"] for r in rows)
    by_rule = summary.get("byRule") or Counter(r["rule"] for r in rows)
    rule_items = sorted(((rid, n) for rid, n in by_rule.items()), key=lambda kv: (-int(kv[1] or 0), kv[0]))
    migration_rows, migration_total = _migration_rows(report)
    readiness = summary.get("migrationReadiness") or Counter(r["readiness"] for r in migration_rows)
    columns, matrix = _vault_matrix(report)
    charts = {
        "severity": bar_chart([(s, by_severity.get(s, 0), f"sev-{s}") for s in SEVERITIES],
                              title="Findings by severity", chart_id="chart-severity"),
        "rule": bar_chart([(rid, n, "rule") for rid, n in rule_items], title="Findings by rule", chart_id="chart-rule"),
        "model": bar_chart([(m, n, f"model-{css_class(m)}") for m, n in (summary.get("byPermissionModel") or {}).items()],
                           title="Vaults by permission model", chart_id="chart-model"),
        "exposure": bar_chart([(e, n, f"exp-{css_class(e)}") for e, n in (summary.get("byNetworkExposure") or {}).items()],
                              title="Vaults by network exposure", chart_id="chart-exposure"),
        "readiness": bar_chart([(r, readiness.get(r, 0), f"ready-{r}") for r in READINESS],
                               title="Migration readiness of access-policy vaults", chart_id="chart-readiness"),
    }
    tables = tally.tables(report.get("vaults") or (), severities=SEVERITIES, rules=list(by_rule),
                          severity_totals=summary.get("bySeverity"), cap=LIST_CAP)
    points = trend_points(summary)
    labels = [trend_label(p, n) for n, p in enumerate(points, 1)]
    charts["trend"] = line_chart(labels, {name: [p[name] for p in points] for name in TREND_FIELDS},
                                 title="Findings per run (summary.trend)", chart_id="chart-trend")
    week = {k: summary.get(k) for k in ("new", "persisting", "resolved", "unverified", "suppressed")
            if summary.get(k) is not None}
    statuses = sorted({r["status"] for r in rows if r["status"]})
    return {
        "report": report, "run": run, "summary": summary, "tool": report.get("tool") or {},
        "complete": bool(run.get("complete")) and not gaps,
        "gaps": gaps[:LIST_CAP], "gap_count": len(gaps),
        "not_evaluated": not_evaluated[:LIST_CAP], "not_evaluated_count": len(not_evaluated),
        "coverage": coverage, "coverage_short": [c for c in coverage if c.get("state") != "collected"],
        "fix_first": fix_first, "fix_first_ranked": bool(summary.get("fixFirst")),
        "rows": rows, "total": total, "capped": total > len(rows), "cap": TABLE_CAP,
        "page_size": PAGE_SIZE, "pages": max(1, -(-len(rows) // PAGE_SIZE)),
        "statuses": statuses, "week": week, "charts": charts,
        "vault_count": summary.get("vaults", len(report.get("vaults") or ())),
        "matrix_columns": columns, "matrix": matrix,
        "migration": migration_rows, "migration_total": migration_total, "migration_cap": MIGRATION_CAP,
        "severities": SEVERITIES,
        "tables": [tables[key] for key in ("severity", "rule", "owner", "subscription")],
        "trend": [{"label": label, **point} for label, point in zip(labels, points)],
        "trend_fields": TREND_FIELDS,
    }


class HtmlWriter:
    name = "html"
    filename = "kv-audit-report.html"

    def __init__(self) -> None:
        from jinja2 import ChainableUndefined, Environment

        self._css = _asset("report.css")
        self._js = _asset("report.js")
        env = Environment(autoescape=True, undefined=ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
        env.filters["num"] = lambda n: f"{n:,}" if isinstance(n, int) else ("" if n is None else str(n))
        env.filters["cls"] = css_class
        self._template = env.from_string(_asset("report.html.j2"))

    def render(self, result: AuditResult) -> bytes:
        from markupsafe import Markup

        context = build_context(result.report)
        context.update(css=Markup(self._css), script=Markup(self._js),
                       csp=f"default-src 'none'; img-src data:; style-src '{_sha256(self._css)}'; "
                           f"script-src '{_sha256(self._js)}'; base-uri 'none'; form-action 'none'")
        return self._template.render(**context).encode("utf-8")
