"""The Summary sheet: run metadata, the incomplete-run banner, trend, counts and charts.

Written last (it reports how the other sheets came out) and moved to the front by the writer.
Its length is bounded whatever the estate size: gaps, owners and subscriptions beyond a cap are
counted in a marker line that points to the full sheet. The count tables (by severity, rule,
owner, subscription) come from ``reports/summary_tables.py``, the same rows the HTML page shows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, PieChart, Reference
from openpyxl.chart.marker import DataPoint
from openpyxl.styles import Alignment, Font, PatternFill

from .xlsx_rows import SEVERITY_STYLE
from .xlsx_table import Page, print_setup
from .xlsx_text import describe, network_exposure
from .xlsx_trend import write_trend

SUMMARY_MAX_GAPS = 10
SUMMARY_MAX_ROWS = 1_000   # owners and subscriptions listed (summary_tables cap)
GAPS_SHEET = "Not evaluated & gaps"

TITLE_FONT = Font(bold=True, size=16, color="1F3864")
SECTION_FONT = Font(bold=True, size=12, color="1F3864")
BANNER_FONT = Font(bold=True, size=14, color="FFFFFF")
BANNER_FILL = PatternFill("solid", start_color="C00000", end_color="C00000")
GAP_FONT = Font(color="9C0006")
GAP_FILL = PatternFill("solid", start_color="FFC7CE", end_color="FFC7CE")
OK_FONT = Font(bold=True, color="006100")
OK_FILL = PatternFill("solid", start_color="C6EFCE", end_color="C6EFCE")
HEAD_FONT = Font(bold=True, color="FFFFFF")
HEAD_FILL = PatternFill("solid", start_color="1F3864", end_color="1F3864")
WIDTH = 8  # columns A..H carry text; charts start at column J
EXPOSURE_COLOURS = {"public": "C00000", "firewalled": "FFC000", "perimeter": "5B9BD5", "private": "70AD47"}
MODEL_COLOURS = {"rbac": "4472C4", "accessPolicy": "FFC000"}


@dataclass
class SheetFacts:
    """What the writer learned while writing the data sheets."""
    severities: list[str]
    pages: dict[str, list[Page]] = field(default_factory=dict)
    neutralized: int = 0
    truncated: int = 0
    tool_version: str = ""
    tables: dict[str, Any] = field(default_factory=dict)   # summary_tables.Table by key
    selected: bool = True   # the tab Excel opens on (False when a Fix first sheet comes before it)


def is_incomplete(run: dict) -> bool:
    """Anything but an explicit ``complete: true`` without gaps is shown as incomplete."""
    return run.get("complete") is not True or bool(run.get("gaps"))


class _Sheet:
    def __init__(self, workbook, text, tab_colour, selected=True):
        self.ws = workbook.create_sheet("Summary", 0)  # first tab, written last
        self.text = text
        self.row = 0
        self.ws.column_dimensions["A"].width = 36
        self.ws.column_dimensions["B"].width = 44
        for letter in "CDEFGH":
            self.ws.column_dimensions[letter].width = 12
        self.ws.sheet_properties.tabColor = tab_colour
        self.ws.sheet_view.tabSelected = selected  # the tab Excel opens on (views are written first)
        print_setup(self.ws, title_rows=None)
        self.section_font, self.head_font, self.head_fill = SECTION_FONT, HEAD_FONT, HEAD_FILL

    def line(self, *values, font=None, fill=None, height=None, span=False):
        """One row; ``span`` paints the fill across the whole text area (banners)."""
        self.row += 1
        if height:
            self.ws.row_dimensions[self.row].height = height
        cells = []
        for i in range(WIDTH if span else len(values)):
            value = self.text.clean(values[i]) if i < len(values) else None
            cell = WriteOnlyCell(self.ws, value=value)
            if isinstance(value, str):
                cell.data_type = "s"
            if font is not None and value is not None:
                cell.font = font
            if fill is not None:
                cell.fill = fill
            cells.append(cell)
        if span:
            self.ws.merged_cells.add(f"A{self.row}:{chr(ord('A') + WIDTH - 1)}{self.row}")
            cells[0].alignment = Alignment(wrap_text=True, vertical="center")
        self.ws.append(cells)
        return self.row

    def blank(self):
        self.row += 1
        self.ws.append([])

    def table(self, title, headers, rows):
        """A titled block; returns (header row, last row)."""
        self.blank()
        self.line(title, font=SECTION_FONT)
        head = self.line(*headers, font=HEAD_FONT, fill=HEAD_FILL)
        for values in rows:
            self.line(*values)
        return head, self.row


def write_summary(workbook, report: dict, text, facts: SheetFacts):
    run = report.get("run") or {}
    summary = report.get("summary") or {}
    findings = report.get("findings") or []
    vaults = report.get("vaults") or []
    sheet = _Sheet(workbook, text, "C00000" if is_incomplete(run) else "1F3864", facts.selected)

    sheet.line("kv-audit: Azure Key Vault compliance audit", font=TITLE_FONT, height=24)
    _banner(sheet, run)
    coverage = run.get("coverage") or []
    if coverage:
        # first screen: what was not examined, so "no finding" is never read as "examined and clean"
        sheet.table("Data sources (run.coverage)", ["Source", "State", "What its absence can hide"],
                    [(c.get("source"), c.get("state"), "" if c.get("state") == "collected" else c.get("note"))
                     for c in coverage])
    sheet.blank()
    sheet.line("Run", font=SECTION_FONT)
    for label, value in _run_facts(report, run, summary, findings, vaults, facts):
        sheet.line(label, value)

    tables = facts.tables
    head, last = _count_table(sheet, tables["severity"])
    charts_at = head
    trend_head, charted = write_trend(sheet, summary)
    slot = 0
    if charted:   # the trend chart sits beside its own table; the others stack below it
        charts_at, slot = trend_head, 1
    _severity_chart(sheet.ws, head, last, [row[0] for row in tables["severity"].rows],
                    anchor=f"J{charts_at + 16 * slot}")

    models = Counter(str(v.get("permissionModel") or "unknown") for v in vaults)
    head, last = sheet.table("Vaults by permission model", ["Permission model", "Vaults"],
                             sorted(models.items()))
    _pie(sheet.ws, "Vaults by permission model", head, last, sorted(models), MODEL_COLOURS,
         anchor=f"J{charts_at + 16 * (slot + 1)}")

    exposure = Counter(network_exposure(v) for v in vaults)
    order = [e for e in ("public", "firewalled", "perimeter", "private") if e in exposure]
    head, last = sheet.table("Vaults by network exposure", ["Exposure", "Vaults"],
                             [(e, exposure[e]) for e in order])
    _pie(sheet.ws, "Vaults by network exposure", head, last, order, EXPOSURE_COLOURS,
         anchor=f"J{charts_at + 16 * (slot + 2)}")

    for key in ("rule", "owner", "subscription"):
        _count_table(sheet, tables[key])

    sheet.table("Sheets", ["Sheet", "Rows", "Notes"], _sheet_rows(facts.pages))
    return sheet.ws


_MORE = {"owner": "owners: filter the Findings and Vaults sheets by Owner",
         "subscription": "subscriptions: filter the Vaults and Findings sheets"}


def _count_table(sheet, table):
    """A summary_tables.Table as a titled block (unsuppressed counts; suppressed in a column)."""
    head, last = sheet.table(table.title, list(table.headers), table.rows)
    if table.more:
        sheet.line(f"… {table.more:,} more {_MORE.get(table.key, 'rows')}")
    return head, last


def _banner(sheet, run):
    not_evaluated = run.get("notEvaluated") or []
    if not is_incomplete(run):
        if not_evaluated:  # every scope read, but some rules could not judge some vaults
            sheet.line(f"Complete run: every scope was read, but {len(not_evaluated)} rule evaluation(s) were not "
                       f"done (run.notEvaluated; sheet '{GAPS_SHEET}' says why).", font=OK_FONT, fill=OK_FILL,
                       height=36, span=True)
        else:
            sheet.line("Complete run: every scope was read and every rule evaluated.",
                       font=OK_FONT, fill=OK_FILL, height=22, span=True)
        return
    gaps = run.get("gaps") or []
    why = "run.complete is false" if run.get("complete") is False else "run.complete is not true"
    sheet.line(f"INCOMPLETE RUN: {len(gaps)} gap(s), {len(not_evaluated)} rule evaluation(s) not done "
               f"({why}). Missing data is not a pass: absent findings prove nothing for these "
               f"scopes. Details: sheet '{GAPS_SHEET}'.",
               font=BANNER_FONT, fill=BANNER_FILL, height=60, span=True)
    for gap in gaps[:SUMMARY_MAX_GAPS]:
        if isinstance(gap, dict):
            words = f"gap: {describe(gap.get('scope'))} | table {describe(gap.get('table'))} | {describe(gap.get('reason'))}"
        else:
            words = f"gap: {describe(gap)}"
        sheet.line(words, font=GAP_FONT, fill=GAP_FILL, span=True)
    if len(gaps) > SUMMARY_MAX_GAPS:
        sheet.line(f"… and {len(gaps) - SUMMARY_MAX_GAPS} more gap(s) on sheet '{GAPS_SHEET}'",
                   font=GAP_FONT, fill=GAP_FILL, span=True)


def _run_facts(report, run, summary, findings, vaults, facts):
    tool = report.get("toolVersion") or run.get("toolVersion") or (run.get("tool") or {}).get("version")
    yield "Run ID", run.get("id")
    yield "Started", run.get("startedAt")
    yield "Finished", run.get("finishedAt")
    yield "Source", run.get("source")
    yield "Scope", describe(run.get("scope")) or "every subscription the identity can read"
    yield "Tool version", tool or facts.tool_version
    yield "Report schema version", report.get("schemaVersion")
    yield "Complete", "yes" if not is_incomplete(run) else "NO"
    yield "Vaults", summary.get("vaults", len(vaults))
    yield "Findings", summary.get("findings", len(findings))
    yield "Cells neutralized against formula injection", facts.neutralized
    yield "Cells truncated at Excel's cell size limit", facts.truncated
    if facts.neutralized:
        yield "Note", ("Text from the estate that starts with = + - @, a tab or a line break is "
                       "shown with a leading apostrophe so that it can never run as a formula.")


def _sheet_rows(pages: dict[str, list[Page]]):
    for name, sheet_pages in pages.items():
        titles = [page.title for page in sheet_pages]
        for i, page in enumerate(sheet_pages):
            notes = []
            if i + 1 < len(titles):
                notes.append(f"continued on '{titles[i + 1]}' (Excel's row limit)")
            if page.links_dropped:
                notes.append(f"{page.links_dropped:,} rows past Excel's hyperlink limit have no portal link")
            yield page.title, page.rows, "; ".join(notes) or None


def _severity_chart(ws, head, last, severities, anchor):
    chart = BarChart()
    chart.type = "col"
    chart.title = "Findings by severity"
    chart.legend = None
    chart.y_axis.title = "Findings"
    chart.add_data(Reference(ws, min_col=2, min_row=head, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=head + 1, max_row=last))
    series = chart.series[0]
    for i, severity in enumerate(severities):
        fill = SEVERITY_STYLE.get(severity, ("A5A5A5", ""))[0]
        point = DataPoint(idx=i)
        point.graphicalProperties.solidFill = fill
        series.dPt.append(point)
    chart.height, chart.width = 7.5, 12
    ws.add_chart(chart, anchor)


def _pie(ws, title, head, last, labels, colours, anchor):
    chart = PieChart()
    chart.title = title
    chart.add_data(Reference(ws, min_col=2, min_row=head, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=head + 1, max_row=last))
    series = chart.series[0]
    for i, label in enumerate(labels):
        point = DataPoint(idx=i)
        point.graphicalProperties.solidFill = colours.get(label, "A5A5A5")
        series.dPt.append(point)
    chart.height, chart.width = 7.5, 12
    ws.add_chart(chart, anchor)
