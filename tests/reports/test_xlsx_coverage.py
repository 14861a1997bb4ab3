"""The spreadsheet's Summary opens with run.coverage: the sources not examined are on the first screen."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from audit_function import audit
from audit_function.coverage import SOURCES


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
