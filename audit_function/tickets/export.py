"""Flat ticket exports for Jira / ServiceNow imports: JSON Lines and CSV.

One row per ticket (per open finding, vault, rule or owner), with flat columns an importer can
map: ``summary, description, priority, severity, labels, fingerprint, status, owner, ...``. ``fingerprint``
is the stable key: map it to an external-id / correlation field so a re-import updates the
issue instead of creating a second one. ``labels`` is space-separated in CSV (Jira labels hold
no spaces) and a list in JSON Lines.

CSV cells that a spreadsheet would run as a formula (leading ``=``, ``+``, ``-``, ``@``, tab or
carriage return) are prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
import json

from audit_function.tickets import render
from audit_function.tickets.model import TicketPlan

COLUMNS = ("summary", "description", "priority", "severity", "labels", "fingerprint", "status",
           "ruleId", "vaultName", "vaultId", "subscriptionId", "resourceGroup", "principalId",
           "firstSeen", "remediation", "findingCount", "findingFingerprints", "principalName", "owner")
PRIORITY = {"high": "High", "medium": "Medium", "low": "Low"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_rows(plan: TicketPlan, *, include_resolved: bool = False) -> list[dict]:
    rows = []
    for ticket in plan.open:
        first = ticket.findings[0]
        rules = sorted({f.get("ruleId") for f in ticket.findings if f.get("ruleId")})
        statuses = {f.get("status") for f in ticket.findings}
        single = ticket.group == "finding"
        owner = render.owner_label(ticket.owner, limit=255)
        rows.append({
            "summary": render.title(ticket),
            "description": render.plain(ticket),
            "priority": PRIORITY.get(ticket.severity, "Medium"),
            "severity": ticket.severity,
            "labels": ["kv-audit", f"severity-{ticket.severity}"] + [f"rule-{r}" for r in rules]
                      + ([owner.replace(" ", "-").replace(":", "-", 1)] if owner else []),
            "fingerprint": ticket.key,
            "status": "new" if statuses == {"new"} else ("persisting" if "persisting" in statuses
                                                         else "open"),
            "ruleId": ", ".join(rules),
            "vaultName": first.get("vaultName"),
            "vaultId": first.get("vaultId"),
            "subscriptionId": first.get("subscriptionId"),
            "resourceGroup": first.get("resourceGroup"),
            "principalId": first.get("principalId") if single else None,
            "firstSeen": min((f["firstSeen"] for f in ticket.findings if f.get("firstSeen")),
                             default=None),
            "remediation": "\n".join(str(f.get("remediation") or "") for f in ticket.findings),
            "findingCount": len(ticket.findings),
            "findingFingerprints": [f.get("fingerprint") for f in ticket.findings],
            "principalName": first.get("principalName") if single else None,
            "owner": ticket.owner,
        })
    if include_resolved:
        for key, entries in sorted(plan.resolved.items()):
            first = entries[0]
            rows.append({
                "summary": f"kv-audit: resolved: {first.get('title') or first.get('ruleId')}",
                "description": render.resolved_comment(plan, entries),
                "priority": PRIORITY.get(first.get("severity"), "Medium"),
                "severity": first.get("severity"),
                "labels": ["kv-audit", "resolved"],
                "fingerprint": key, "status": "resolved",
                "ruleId": ", ".join(sorted({e.get("ruleId") for e in entries if e.get("ruleId")})),
                "vaultName": first.get("vaultName"), "vaultId": first.get("vaultId"),
                "subscriptionId": first.get("subscriptionId"),
                "resourceGroup": first.get("resourceGroup"),
                "principalId": first.get("principalId") if len(entries) == 1 else None,
                "firstSeen": first.get("firstSeen"), "remediation": None,
                "findingCount": len(entries),
                "findingFingerprints": [e.get("fingerprint") for e in entries],
                "principalName": first.get("principalName") if len(entries) == 1 else None,
                "owner": first.get("owner") if len({e.get("owner") for e in entries}) == 1 else None,
            })
    return rows


def render_jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n"
                   for row in rows).encode("utf-8")


def render_csv(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in COLUMNS])
    return buffer.getvalue().encode("utf-8")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = " ".join(str(v) for v in value if v is not None)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text
