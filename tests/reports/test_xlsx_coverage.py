"""The spreadsheet's Summary opens with run.coverage: the sources not examined are on the first screen."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from audit_function.pipeline import run as audit
from audit_function.report.coverage import SOURCES


def test_summary_lists_every_data_source_near_the_top():
    outcome = audit.run_audit(audit.AuditOptions(source="demo", formats=("xlsx",)))
    data = outcome.files["kv-audit-report.xlsx"]
    ws = load_workbook(io.BytesIO(data if isinstance(data, bytes) else b"".join(data)), read_only=True)["Summary"]
    rows = [list(row) + [None] * (3 - len(row)) for row in ws.iter_rows(max_row=60, values_only=True)]
    start = next(i for i, r in enumerate(rows) if r[0] == "Data sources (run.coverage)")
    assert start < 10, "coverage must be on the first screen"
    listed = {r[0]: r[1] for r in rows[start + 2:start + 2 + len(SOURCES)]}
    assert list(listed) == list(SOURCES)
    assert listed["eligible assignments (PIM)"] == "collected"
    assert listed["Managed HSM data plane (local RBAC)"] == "not collected"
    hidden = {r[0]: r[2] for r in rows[start + 2:start + 2 + len(SOURCES)]}
    assert "HSM" in hidden["Managed HSM data plane (local RBAC)"]


def test_the_workbook_opens_on_fix_first_then_the_summary():
    outcome = audit.run_audit(audit.AuditOptions(source="demo", formats=("json", "xlsx")))
    data = outcome.files["kv-audit-report.xlsx"]
    wb = load_workbook(io.BytesIO(data if isinstance(data, bytes) else b"".join(data)))
    assert wb.sheetnames[:3] == ["Fix first", "Summary", "Findings"]
    assert wb.active.title == "Fix first"
    rows = list(wb["Fix first"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header[:4] == ("#", "Severity", "Rule", "What to fix")
    report = outcome.result.report
    assert [r[-1] for r in body] == report["summary"]["fixFirst"]
    assert body[0][1:3] == ("high", "self-grant-path")
    assert body[0][3] == "User Access Administrator at /" and body[0][4] == "Break Glass Admin"
    assert body[0][6] == report["summary"]["vaults"]
    assert body[0][7].startswith("Remove or narrow the grant: `az role assignment delete --ids ")
