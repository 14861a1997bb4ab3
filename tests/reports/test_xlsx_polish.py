"""Spreadsheet polish for reviewers: wrapped text with row heights, print setup, owners, the
trend block and the summary tables (issue 12 items 7 and 8)."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

import reports.xlsx_fastrows as fastrows
from audit_function.vocabulary import AuditResult
from reports.xlsx_report import XlsxWriter
from reports.xlsx_text import CellText
from reports.xlsx_table import LINE_POINTS, MAX_ROW_POINTS, text_lines
from reports.xlsx_trend import FIRST_RUN_NOTE, NO_TREND_NOTE, TREND_TITLE
from tests.reports import factory_xlsx as make
from tests.reports.test_xlsx_report import column, header, summary_block, summary_rows

LONG = "The vault accepts traffic from every network. " * 12   # ~550 characters


def tall_estate(trend=None) -> AuditResult:
    v1 = make.vault("kv-pay", owner="team-pay")
    v2 = make.vault("kv-legacy", sub=2, model="accessPolicy", owner=None)
    findings = [
        make.finding("public-network-open", v1, 1, message=LONG, remediation="az keyvault update\n" * 5, owner="team-pay"),
        make.finding("no-private-endpoint", v1, 2, owner="team-pay", remediation="az network private-endpoint create"),
        make.finding("access-policy-model", v2, 3, owner=None, suppressed=True, status="persisting"),
    ]
    commands = [f"az role assignment create --assignee-object-id {n:08d} --role 'Key Vault Secrets User'"
                for n in range(9)]
    migration = [{"vaultId": v2["id"], "vaultName": v2["name"], "readiness": "needs-assignments",
                  "reasons": ["r"], "entries": [{"principalId": "p1", "commands": commands},
                                                {"principalId": "p2", "commands": ["one"]}]}]
    doc = make.report([v1, v2], findings, migration=migration)
    if trend is not None:
        doc["summary"]["trend"] = trend
    return AuditResult(doc, (make.access_row(v1, "p1"),))


def load(result: AuditResult):
    return openpyxl.load_workbook(io.BytesIO(XlsxWriter().render(result)))


@pytest.fixture(scope="module")
def tall():
    return load(tall_estate(make.trend(12)))


def test_findings_title_message_and_remediation_wrap_and_rows_are_tall_enough(tall):
    ws = tall["Findings"]
    names = header(ws)
    for name in ("Title", "Message", "Remediation"):
        cell = ws.cell(row=2, column=names.index(name) + 1)
        assert cell.alignment.wrap_text and cell.alignment.vertical == "top", name
    width = ws.column_dimensions[openpyxl.utils.get_column_letter(names.index("Message") + 1)].width
    lines = text_lines(LONG, width)
    assert lines >= 9
    assert ws.row_dimensions[2].height == lines * LINE_POINTS
    assert ws.row_dimensions[3].height is None        # one-line row: default height
    assert ws.row_dimensions[1].height is None


def test_migration_rows_get_the_height_of_their_commands(tall):
    ws = tall["Migration"]
    commands = ws.cell(row=2, column=header(ws).index("Commands") + 1)
    assert commands.alignment.wrap_text
    assert commands.value.count("\n") == 8
    assert ws.row_dimensions[2].height >= 9 * LINE_POINTS
    assert ws.row_dimensions[3].height is None


def test_row_height_is_capped_at_excels_maximum():
    huge = "\n".join(["x"] * 200)
    v = make.vault("kv")
    doc = make.report([v], [make.finding("public-network-open", v, message=huge)])
    assert load(AuditResult(doc, ()))["Findings"].row_dimensions[2].height == MAX_ROW_POINTS


@pytest.mark.parametrize("text,width,lines", [
    (None, 10, 1), ("", 10, 1), ("short", 10, 1), ("x" * 9, 10, 1), ("x" * 10, 10, 2),
    ("a\nb\nc", 40, 3), ("x" * 25 + "\n\n" + "y", 10, 3 + 1 + 1),
])
def test_text_lines(text, width, lines):
    assert text_lines(text, width) == lines


def test_every_sheet_prints_landscape_one_page_wide_with_titles_and_page_numbers(tall):
    for ws in tall.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0, ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.oddHeader.center.text == "&A", ws.title           # the sheet name
        assert ws.oddFooter.right.text == "Page &P of &N", ws.title
        if ws.title != "Summary":
            assert ws.print_title_rows == "$1:$1", ws.title         # header row on every page


def test_print_area_stops_before_ids_and_evidence(tall):
    ws = tall["Findings"]
    last = header(ws).index("Suppression") + 1
    assert header(ws)[last] == "Fingerprint"
    letter = openpyxl.utils.get_column_letter(last)
    assert ws.print_area == f"'Findings'!$A$1:${letter}$4"


def test_owner_column_in_vaults_and_filters_cover_it(tall):
    assert column(tall["Vaults"], "Owner") == ["team-pay", None]
    assert column(tall["Findings"], "Owner") == ["team-pay", "team-pay", None]
    for title in ("Findings", "Vaults", "Access"):
        ws = tall[title]
        (table,) = ws.tables.values()
        assert table.autoFilter.ref == table.ref, title
        if title != "Access":
            assert "Owner" in [c.name for c in table.tableColumns], title


def test_summary_tables_by_owner_and_subscription_count_unsuppressed_with_suppressed_apart(tall):
    # Owner, vaults, findings, high, medium, low, suppressed
    assert summary_block(tall, "Findings by owner") == [["team-pay", 1, 2, 1, 0, 1, 0], ["(no owner tag)", 1, 0, 0, 0, 0, 1]]
    subs = summary_block(tall, "Findings by subscription")
    assert subs[0] == ["sub-1", make.subscription_id(1), 1, 2, 1, 0, 1, 0]
    assert subs[1] == ["sub-2", make.subscription_id(2), 1, 0, 0, 0, 0, 1]
    assert summary_block(tall, "Findings by severity") == [["high", 1, 0], ["medium", 0, 1], ["low", 1, 0]]


def charts(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [archive.read(n).decode() for n in sorted(archive.namelist()) if n.startswith("xl/charts/chart")]


@pytest.mark.parametrize("points", [2, 12])
def test_trend_table_and_line_chart(points):
    data = XlsxWriter().render(tall_estate(make.trend(points)))
    wb = openpyxl.load_workbook(io.BytesIO(data))
    rows = summary_block(wb, TREND_TITLE)
    assert len(rows) == points
    expected = make.trend(points)
    assert rows[0] == [expected[0]["runAt"], *[expected[0][k] for k in ("high", "medium", "low", "new", "resolved")]]
    assert rows[-1][0] == expected[-1]["runAt"]
    found = charts(data)
    assert len(found) == 4
    line = next(c for c in found if "lineChart" in c)
    head = 1 + next(i for i, row in enumerate(wb["Summary"].iter_rows(values_only=True)) if row[:2] == ("Run", "High"))
    assert f"'Summary'!B{head}<" in line and f"$A${head + 1}:$A${head + points}<" in line   # titles, categories
    assert line.count("<ser>") == 5 and "Findings per run" in line
    assert FIRST_RUN_NOTE not in sum(summary_rows(wb), [])


def test_one_point_is_a_table_and_a_first_run_note_without_a_chart():
    data = XlsxWriter().render(tall_estate(make.trend(1)))
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert len(summary_block(wb, TREND_TITLE)) == 2 and [FIRST_RUN_NOTE] in summary_rows(wb)
    assert len(charts(data)) == 3 and not any("lineChart" in c for c in charts(data))


def test_missing_trend_or_missing_fields_never_fail():
    wb = load(tall_estate())
    assert [NO_TREND_NOTE] in summary_rows(wb)
    broken = [{"runAt": "2026-11-24T06:00:00Z", "high": 4}, {"high": "x", "low": 2}, "junk"]
    data = XlsxWriter().render(tall_estate(broken))
    wb = openpyxl.load_workbook(io.BytesIO(data))
    rows = list(wb["Summary"].iter_rows(values_only=True))
    start = next(i for i, row in enumerate(rows) if row[:2] == ("Run", "High"))
    assert rows[start + 1][:6] == ("2026-11-24T06:00:00Z", 4, None, None, None, None)  # missing: empty, not 0
    assert rows[start + 2][:6] == ("run 2", None, None, 2, None, None)
    assert any("lineChart" in c for c in charts(data))


def test_tall_rows_and_wrapped_cells_write_exactly_what_openpyxl_writes(monkeypatch):
    result = tall_estate(make.trend(3))
    fast = XlsxWriter(max_rows=3).render(result)
    monkeypatch.setattr(fastrows, "FAST_ROWS", False)
    slow = XlsxWriter(max_rows=3).render(result)
    with zipfile.ZipFile(io.BytesIO(fast)) as a, zipfile.ZipFile(io.BytesIO(slow)) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())  # the fast rels part is written earlier
        for name in a.namelist():
            if name != "docProps/core.xml":
                assert a.read(name) == b.read(name), name
        sheet = a.read("xl/worksheets/sheet3.xml").decode()
        assert 'customHeight="1"' in sheet


@pytest.mark.parametrize("sized", [True, False])
def test_access_sheet_is_capped_with_a_marker_naming_the_export(sized):
    v = make.vault("kv")
    rows = [make.access_row(v, f"p{n}") for n in range(7)]
    access = tuple(rows) if sized else (row for row in rows)
    data = XlsxWriter(max_access_rows=5).render(AuditResult(make.report([v], []), access))
    ws = openpyxl.load_workbook(io.BytesIO(data))["Access"]
    assert column(ws, "Principal")[:5] == [f"p{n}" for n in range(5)]
    marker = column(ws, "Vault")[5]
    assert ws.max_row == 7 and marker.startswith("… 2 more access rows") and "kv-audit-access.jsonl.gz" in marker


def test_an_access_list_at_the_cap_has_no_marker():
    v = make.vault("kv")
    rows = tuple(make.access_row(v, f"p{n}") for n in range(5))
    ws = openpyxl.load_workbook(io.BytesIO(XlsxWriter(max_access_rows=5).render(AuditResult(make.report([v], []), rows))))["Access"]
    assert ws.max_row == 6 and not any("more access rows" in str(c) for c in column(ws, "Vault"))


def test_inventory_owner_is_the_owner_its_findings_carry():
    """vaults[].owner (report.py) comes from the same tag chain as the findings' owner."""
    from audit_function.pipeline.run import AuditOptions, run_audit

    outcome = run_audit(AuditOptions(source="demo", formats=("json", "xlsx")))
    report = outcome.result.report
    owners = {v["id"]: v["owner"] for v in report["vaults"]}
    assert all("owner" in v for v in report["vaults"]) and any(owners.values())
    checked = 0
    for f in report["findings"]:
        if f.get("subject") == "vault" and f["vaultId"] in owners:
            assert f.get("owner") == owners[f["vaultId"]], f["fingerprint"]
            checked += 1
    assert checked > 10
    ws = openpyxl.load_workbook(io.BytesIO(outcome.files[XlsxWriter.filename]))["Vaults"]
    clean = CellText().clean   # "@frontend-team" is shown neutralized, as "'@frontend-team"
    assert column(ws, "Owner") == [clean(v["owner"]) for v in report["vaults"]]
    assert "'@frontend-team" in column(ws, "Owner")


def test_long_evidence_is_cut_with_a_marker_and_short_evidence_is_whole():
    from reports.xlsx_rows import EVIDENCE_MAX_CHARS

    v = make.vault("kv")
    ids = [f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-{n:05d}" for n in range(500)]
    doc = make.report([v], [make.finding("latent-grant", v, 1, evidence={"vaultIds": ids}),
                            make.finding("no-private-endpoint", v, 2, evidence={"vaultIds": ids[:2]})])
    long, short = column(load(AuditResult(doc, ()))["Findings"], "Evidence")
    assert long.startswith('{"vaultIds": ["/subscriptions/s/') and len(long) < EVIDENCE_MAX_CHARS + 200
    assert f"of {len(str(ids)):,} characters" not in long   # the count is of the JSON text
    assert "the JSON report has it in full (fingerprint 0000000000000001latent-g)" in long
    assert short == '{"vaultIds": ["' + '", "'.join(ids[:2]) + '"]}'


def test_long_migration_commands_end_on_a_whole_command_with_a_marker():
    from reports.xlsx_rows import COMMANDS_MAX_CHARS

    v = make.vault("kv", model="accessPolicy")
    commands = [f"az role assignment create --assignee-object-id {n:08d} --role 'Key Vault Secrets User' --scope /x"
                for n in range(200)]
    plan = [{"vaultId": v["id"], "vaultName": "kv", "readiness": "needs-assignments",
             "entries": [{"principalId": "p", "commands": commands}]}]
    doc = make.report([v], [], migration=plan)
    ws = load(AuditResult(doc, ()))["Migration"]
    cell = column(ws, "Commands")[0]
    kept, marker = cell.rsplit("\n", 1)
    assert len(kept) <= COMMANDS_MAX_CHARS and kept.split("\n")[-1] in commands   # a whole command last
    assert marker.startswith("…[commands cut at 4,000 of") and "`kv-audit plan`" in marker
    assert ws.row_dimensions[2].height == MAX_ROW_POINTS


def test_a_vault_with_many_entries_repeats_only_the_head_of_its_reasons():
    from reports.xlsx_rows import REASONS_REPEAT_CHARS

    v = make.vault("kv", model="accessPolicy")
    reasons = [f"entry {n} (principal {n:08d}) has no RBAC equivalent yet" for n in range(40)]
    plan = [{"vaultId": v["id"], "vaultName": "kv", "readiness": "needs-assignments", "reasons": reasons,
             "entries": [{"principalId": f"p{n}"} for n in range(3)]}]
    ws = load(AuditResult(make.report([v], [], migration=plan), ()))["Migration"]
    first, second, third = column(ws, "Reasons")
    assert first == "; ".join(reasons)                      # whole on the vault's first row
    assert second == third and second.endswith("…[all reasons on this vault's first row]")
    assert len(second) < REASONS_REPEAT_CHARS + 60 and second.startswith(reasons[0])
