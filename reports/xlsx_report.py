"""The spreadsheet report: the estate as security reviewers filter, sort and assign it.

``XlsxWriter().render(result) -> bytes`` builds the workbook in memory (openpyxl write-only
mode, so memory stays flat with the number of findings) and returns the .xlsx bytes; it opens
no path and no connection. The table sheets write their XML straight into the in-memory archive
as their rows come, compressed by a worker thread (``reports/xlsx_fastrows.py``,
``reports/xlsx_pipe.py``); only the small Summary sheet is staged by openpyxl in a temporary file
(the library's internal buffering, not output). A big table (Findings, Vaults, Access, Migration)
on a machine with several CPUs is made in runs by forked processes and spliced into its sheet
(``reports/xlsx_runs.py``): the same workbook, in a fraction of the time.

Sheets, in order:
  Fix first               the findings to start with (summary.fixFirst): cause, owner, reach, command
  Summary                 run metadata, INCOMPLETE banner, trend (summary.trend) with its chart,
                          counts by severity/rule/owner/subscription (reports/summary_tables.py,
                          pandas), charts, and how every other sheet came out (rows, continuations)
  Findings                one row per finding in the JSON's order, linked to the portal
  Vaults                  the inventory
  Access                  one row per vault x principal x source with data access, at most
                          ``max_access_rows`` (a marker row says how many more are in the access
                          export, kv-audit-access.jsonl.gz)
  Migration               one row per migration-plan entry (only when the report has a plan)
  Not evaluated & gaps    run.gaps and run.notEvaluated ("/" is not allowed in sheet names)
A table that outgrows a sheet continues on "<name> (2)", "<name> (3)" …
Every sheet is set up to print (landscape, one page wide, header row repeated, sheet name and
page number in the header and footer): see ``reports/xlsx_table.py``.

Text safety and Excel's size limits are explained in ``reports/xlsx_text.py``; the limits are
constructor arguments so tests can exercise them with small numbers.
"""

from __future__ import annotations

from datetime import datetime, timezone
from itertools import count
from io import BytesIO
from zipfile import ZIP_DEFLATED, ZipFile

from openpyxl import Workbook

from audit_function.engine.findings import fix_first_findings
from audit_function.vocabulary import SEVERITIES as BASE_SEVERITIES
from reports.streaming import reporting_rows

from .xlsx_rows import (
    ACCESS_COLUMNS, GAP_COLUMNS, MIGRATION_COLUMNS, Lookup, access_row, finding_columns,
    finding_row, gap_rows, has_status, migration_row_count, migration_rows, severity_rank, vault_columns,
    vault_row,
)
from .xlsx_links import FastExcelWriter
from .xlsx_parts import LEVEL
from .xlsx_runs import Source, fill
from .xlsx_fixfirst import FIX_FIRST_COLUMNS, FIX_FIRST_SHEET, fix_first_rows
from .summary_tables import Tally
from .xlsx_summary import GAPS_SHEET, SUMMARY_MAX_ROWS, SheetFacts, write_summary
from .xlsx_table import EXCEL_MAX_LINKS, EXCEL_MAX_ROWS, PagedSheet
from .xlsx_text import EXCEL_MAX_CELL_CHARS, CellText

ACCESS_SHEET_CAP = 200_000   # rows on the Access sheet; the access export has them all
ACCESS_MARKER = ("… {more:,} more access rows are not on this sheet (it stops at {cap:,}): the full list is "
                 "the access export, kv-audit-access.jsonl.gz (kv-audit audit --format access)")


class XlsxWriter:
    name = "xlsx"
    filename = "kv-audit-report.xlsx"

    def __init__(self, *, max_rows: int = EXCEL_MAX_ROWS, max_cell_chars: int = EXCEL_MAX_CELL_CHARS,
                 max_links: int = EXCEL_MAX_LINKS, max_access_rows: int = ACCESS_SHEET_CAP,
                 workers: int | None = None):
        """``max_rows`` counts the header row; ``max_links`` is per sheet; ``workers``: processes for
        a big table (None: ``xlsx_parts.workers()``, 1: this process only)."""
        self.workers = workers
        self.max_rows = max_rows
        self.max_cell_chars = max_cell_chars
        self.max_links = max_links
        self.max_access_rows = max_access_rows

    def render(self, result) -> bytes:
        workbook = Workbook(write_only=True)
        try:
            return self._render(result, workbook)
        except BaseException:   # failed or interrupted: its sheets stop writing, nothing is left half-open
            for sheet in workbook._sheets:
                abandon = getattr(sheet, "abandon", None)
                if abandon is not None:
                    abandon()
            raise

    def _render(self, result, workbook) -> bytes:
        report = result.report
        findings = report.get("findings") or []
        vaults = report.get("vaults") or []
        run = report.get("run") or {}
        text = self._text = CellText(self.max_cell_chars)
        lookup = Lookup(vaults, report.get("roles"))
        self._progress = getattr(result, "progress", None)   # "writing xlsx: Findings rows N of M"
        self._totals = {"Findings": len(findings), "Vaults": len(vaults), "Access": _size(result.access)}
        workbook.properties.creator = "kv-audit"
        workbook.properties.title = "kv-audit report"
        pages = {}

        first = fix_first_findings(report)
        # The table sheets stream their XML into the archive as they are written, under the part
        # names of their final places: Fix first (when there is one), then the Summary (written
        # last), then the others in the order they are written.
        buffer = BytesIO()
        self._archive = ZipFile(buffer, "w", ZIP_DEFLATED, allowZip64=True, compresslevel=ZIP_LEVEL)
        summary_part = 2 if first else 1
        self._parts = (n for n in count(1) if n != summary_part)
        if first:
            pages[FIX_FIRST_SHEET] = self._table(workbook, FIX_FIRST_SHEET, FIX_FIRST_COLUMNS,
                                                 fix_first_rows(first, text, lookup), table_name="FixFirst",
                                                 selected=True)
        status = has_status(findings)
        tally = Tally()   # the summary tables' columns, gathered while the rows stream
        used = set()      # the findings' severities, gathered in the same pass (a second one decodes them all again)

        def finding_rows(items, state):
            tally, used = state
            for f in items:
                tally.add(f)
                severity = f.get("severity")
                if severity:
                    used.add(severity if type(severity) is str else str(severity))
                yield finding_row(f, text, lookup, status)

        pages["Findings"] = self._table(workbook, "Findings", finding_columns(status), Source(
            findings, finding_rows, state=(tally, used), fresh=lambda: (Tally(), set()), merge=_merge_tallies))
        severities = _severities(report, used)
        pages["Vaults"] = self._table(workbook, "Vaults", vault_columns(severities), Source(
            vaults, lambda items, _: (vault_row(v, text, lookup, severities) for v in items)))
        access = result.access if hasattr(result.access, "__len__") else list(result.access or ())
        pages["Access"] = self._table(workbook, "Access", ACCESS_COLUMNS, Source(
            access, lambda items, _: (access_row(row, text, lookup) for row in items), limit=self.max_access_rows),
            tail=self._access_marker(access, text))
        plans = report.get("migration") or []
        if plans:
            pages["Migration"] = self._table(workbook, "Migration", MIGRATION_COLUMNS, Source(
                plans, lambda items, _: (row for plan in items for row in migration_rows(plan, text, lookup)),
                before=migration_row_count))
        pages[GAPS_SHEET] = self._table(
            workbook, GAPS_SHEET, GAP_COLUMNS, gap_rows(run, text, lookup), table_name="Gaps")

        summary = report.get("summary") or {}
        by_rule = summary.get("byRule")
        tables = tally.tables(vaults, severities=severities, rules=list(by_rule) if isinstance(by_rule, dict) else (),
                              severity_totals=summary.get("bySeverity"), cap=SUMMARY_MAX_ROWS)
        facts = SheetFacts(severities=severities, pages=pages, neutralized=text.neutralized,
                           truncated=text.truncated, tool_version=_tool_version(), tables=tables,
                           selected=not first)
        write_summary(workbook, report, text, facts)   # inserted as the first tab
        if first:   # the workbook opens on where to start; the Summary (coverage first) comes next
            sheets = workbook._sheets
            fix = next(ws for ws in sheets if ws.title == FIX_FIRST_SHEET)
            sheets.remove(fix)
            sheets.insert(0, fix)
        workbook.active = 0

        return _save(workbook, self._archive, buffer)

    def _access_marker(self, access, text):
        """After the first ``max_access_rows`` rows, one marker row counting the rest."""
        cap = self.max_access_rows
        if len(access) > cap:
            marker = [None] * len(ACCESS_COLUMNS)
            marker[0] = text.clean(ACCESS_MARKER.format(more=len(access) - cap, cap=cap))
            yield marker, None

    def _table(self, workbook, title, columns, rows, table_name=None, selected=False, tail=()):
        """A table sheet of ``rows``: an iterable of (values, url), or a ``Source`` (big tables are
        then made in runs by forked processes, ``reports/xlsx_runs.py``); then the rows of ``tail``."""
        sheet = PagedSheet(workbook, title, columns, table_name=f"{table_name or title}Table",
                           max_rows=self.max_rows, max_links=self.max_links,
                           archive=self._archive, parts=self._parts, selected=selected)
        progress, total = getattr(self, "_progress", None), getattr(self, "_totals", {}).get(title)
        label = f"writing xlsx: {title}"
        if isinstance(rows, Source):
            fill(sheet, rows, self._text, processes=self.workers, progress=progress, label=label, total=total)
        else:
            for values, url in reporting_rows(rows, progress, label, total):
                sheet.append(values, url)
        for values, url in tail:
            sheet.append(values, url)
        return sheet.close()


ZIP_LEVEL = LEVEL   # the runs' segments are deflated at the same level (xlsx_parts.LEVEL)


def _save(workbook, archive, buffer) -> bytes:
    """``Workbook.save`` into ``archive`` (which holds the streamed sheets already), deflated at
    ZIP_LEVEL (compressing the sheets' XML is the largest single cost of a big workbook)."""
    workbook.properties.modified = datetime.now(timezone.utc).replace(tzinfo=None)
    FastExcelWriter(workbook, archive).save()
    return buffer.getvalue()


def _merge_tallies(state, run) -> None:
    state[0].extend(run[0])
    state[1].update(run[1])


def _size(rows) -> int | None:
    try:
        return len(rows)
    except TypeError:
        return None


def _severities(report: dict, used) -> list[str]:
    """high, medium, low always; any other severity the report uses (``used``: the findings'), in
    severity order."""
    found = set(BASE_SEVERITIES)
    by_severity = (report.get("summary") or {}).get("bySeverity")
    if isinstance(by_severity, dict):
        found.update(str(key).lower() for key in by_severity)
    found.update(severity.lower() for severity in used)
    # Severities become column headers: keep plain words only (others still show per finding).
    return sorted((s for s in found if s.isalnum() and len(s) <= 20), key=severity_rank)


def _tool_version() -> str:
    try:
        from audit_function import __version__
    except ImportError:  # the writer also works on a report outside the package
        return ""
    return f"kv-audit {__version__} (writer)"
