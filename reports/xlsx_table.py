"""A filterable table streamed into write-only worksheets, continued on new sheets when full.

Excel holds at most 1,048,576 rows per sheet and 65,530 hyperlinks per sheet. A ``PagedSheet``
writes its header on every page, fills a page up to ``max_rows`` (header included), then opens
``"<title> (2)"``, ``"<title> (3)"`` … with the same header; rows past the first ``max_links``
of a page keep their text but get no hyperlink (counted by row, not by link, so that a row is the
same XML whichever process writes it: ``reports/xlsx_runs.py``). Each page is an Excel table
(banded style, autofilter) with a frozen header, column widths, and conditional fills for
highlighted values.

Wrapped columns wrap their text, and a row whose wrapped text needs more than one line gets an
explicit height from its line count (LibreOffice and Excel do not grow a row for wrapped text
written without a height on their own: tall cells would overprint the rows below). Every page is
set up for printing: landscape, fitted to one page wide, header row repeated on every page,
the sheet name in the page header and "Page n of N" in the footer; the print area stops at the
last column meant for reading (ids and evidence JSON are left to the screen).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

from openpyxl.cell import WriteOnlyCell
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

from .xlsx_runsheet import RunSheet

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_LINKS = 65_530
TABLE_STYLE = "TableStyleMedium2"

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", start_color="1F3864", end_color="1F3864")
LINK_FONT = Font(color="0563C1", underline="single")
WRAP = Alignment(wrap_text=True, vertical="top")
LINE_POINTS = 15.0        # one line of the default 11-point font
MAX_ROW_POINTS = 409.0    # Excel's largest row height


@dataclass(frozen=True)
class Column:
    header: str
    width: float = 16
    link: bool = False   # the row's URL (if any) is attached to this column's cell
    wrap: bool = False   # wrap long text; the row gets the height its lines need
    printed: bool = True  # within the print area (the area ends at the last printed column)
    highlight: dict = field(default_factory=dict)  # cell value -> (fill RGB, font RGB)


def text_lines(text, width: float) -> int:
    """How many lines ``text`` takes wrapped in a column ``width`` characters wide (rounded up:
    a row a little too tall reads fine, one too short hides text)."""
    if not isinstance(text, str) or not text:
        return 1
    per_line = max(1, int(width) - 1)
    if "\n" not in text:
        return -(-len(text) // per_line) if len(text) > per_line else 1
    return sum(max(1, -(-len(part) // per_line)) for part in text.split("\n"))


def row_height(lines: int) -> float | None:
    """Points for a row of ``lines`` lines, or None for a one-line row (the default height)."""
    if lines <= 1:
        return None
    return min(MAX_ROW_POINTS, LINE_POINTS * lines)


def print_setup(ws, title_rows: str | None = "1:1") -> None:
    """Landscape, one page wide (as many pages tall as needed), the sheet name in the page
    header and the page number in the footer (``&A``/``&P``/``&N`` are Excel's header codes: no
    estate text goes in)."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_options.gridLines = False
    ws.oddHeader.center.text = "&A"
    ws.oddFooter.left.text = "kv-audit"
    ws.oddFooter.right.text = "Page &P of &N"
    if title_rows:
        ws.print_title_rows = title_rows


@dataclass
class Page:
    title: str
    rows: int = 0
    links_dropped: int = 0


class PagedSheet:
    """Append rows (lists of cleaned values); ``close()`` finishes the last page."""

    def __init__(self, workbook, title: str, columns: list[Column], *, table_name: str,
                 max_rows: int = EXCEL_MAX_ROWS, max_links: int = EXCEL_MAX_LINKS,
                 archive=None, parts=None, selected: bool = False):
        if max_rows < 2:
            raise ValueError("max_rows must leave room for a header and one row")
        self.workbook = workbook
        self.title = title
        self.columns = _unique_headers(columns)
        self.table_name = table_name
        self.capacity = max_rows - 1
        self.max_links = max_links
        self.pages: list[Page] = []
        self._link_col = next((i for i, c in enumerate(columns) if c.link), None)
        self._wrap_cols = [(i, c.width) for i, c in enumerate(columns) if c.wrap]
        self._printed = max((i for i, c in enumerate(columns, 1) if c.printed), default=len(columns))
        self._ws = None
        self._archive, self._parts, self._selected = archive, parts, selected
        self._open_page()

    def append(self, values: list, url: str | None = None) -> None:
        page = self.pages[-1]
        if page.rows >= self.capacity:
            self._close_page()
            self._open_page()
            page = self.pages[-1]
        link, height, dropped = self._extras(values, url, page.rows)
        page.links_dropped += dropped
        self._ws.append_values(values, link, height)
        page.rows += 1

    def _extras(self, values: list, url: str | None, index: int) -> tuple[str | None, float | None, int]:
        """The link, height and dropped-link count (0/1) of the row at ``index`` (0 = first under
        the header) of a page."""
        link, dropped = None, 0
        if url is not None and self._link_col is not None and type(values[self._link_col]) is str:
            if index < self.max_links:
                link = url
            else:
                dropped = 1
        lines = 1
        for i, width in self._wrap_cols:
            value = values[i]
            if type(value) is str and (len(value) >= width - 1 or "\n" in value):
                lines = max(lines, text_lines(value, width))
        return link, row_height(lines) if lines > 1 else None, dropped

    # ---- runs of rows made by forked processes (reports/xlsx_parts.py) ----
    def takes_runs(self) -> bool:
        """Whether rows written elsewhere can be spliced in now (first page, streamed)."""
        return len(self.pages) == 1 and self._ws.can_splice()

    def share_styles(self) -> None:
        self._ws.share_styles()

    def write_run(self, sink, rows, first: int) -> dict:
        """(In a forked process.) ``rows`` as rows ``first``, ``first + 1`` … of the first page, into
        ``sink``; what ``xlsx_parts.Segment`` needs besides the table's own state."""
        from .xlsx_parts import RunFailed

        ws = self._ws.run_writer(sink, first + 2)   # row 1 is the header
        ws._hyperlinks = []
        n = dropped = 0
        for values, url in rows:
            index = first + n
            if index >= self.capacity:
                raise RunFailed(f"{self.title}: more rows than one sheet holds")
            link, height, drop = self._extras(values, url, index)
            ws.append_values(values, link, height)
            n += 1
            dropped += drop
        ws.end_run(sink)
        return {"compressed": sink.compressed, "crc": sink.crc, "size": sink.size, "rows": n,
                "links": ws._hyperlinks, "links_dropped": dropped}

    def rows_written(self) -> int:
        """Rows on the current page (header not counted)."""
        return self.pages[-1].rows

    def append_segment(self, segment) -> None:
        """A run written by another process, from the row this page has reached."""
        page = self.pages[-1]
        self._ws.splice(segment)
        page.rows += segment.rows
        page.links_dropped += segment.links_dropped

    def close(self) -> list[Page]:
        self._close_page()
        return self.pages

    def _open_page(self) -> None:
        number = len(self.pages) + 1
        title = self.title if number == 1 else f"{self.title} ({number})"
        part = next(self._parts) if self._parts is not None else None
        ws = RunSheet.add_to(self.workbook, title, LINK_FONT, wrap_alignment=WRAP, archive=self._archive, part=part)
        if self._selected and number == 1:
            ws.sheet_view.tabSelected = True   # before the first row: the view is written with it
        ws.set_columns(len(self.columns), self._link_col, [i for i, _ in self._wrap_cols])
        for i, column in enumerate(self.columns, 1):
            ws.column_dimensions[get_column_letter(i)].width = column.width
        ws.freeze_panes = "A2"
        print_setup(ws)
        self._ws = ws
        ws.append([self._cell(c.header, font=HEADER_FONT, fill=HEADER_FILL) for c in self.columns])
        self.pages.append(Page(title))

    def _close_page(self) -> None:
        page, ws = self.pages[-1], self._ws
        last_col = get_column_letter(len(self.columns))
        ref = f"A1:{last_col}{page.rows + 1}"
        ws.print_area = f"A1:{get_column_letter(self._printed)}{page.rows + 1}"
        if page.rows:
            number = len(self.pages)
            table = Table(
                displayName=self.table_name if number == 1 else f"{self.table_name}_{number}",
                ref=ref,
                tableStyleInfo=TableStyleInfo(name=TABLE_STYLE, showRowStripes=True),
            )
            # Write-only sheets cannot be read back, so name the columns here (openpyxl
            # would otherwise invent "Column1"… and Excel would have to repair the file).
            table.tableColumns = [TableColumn(id=i, name=c.header) for i, c in enumerate(self.columns, 1)]
            table.autoFilter = AutoFilter(ref=ref)
            with warnings.catch_warnings():  # openpyxl warns in write-only mode even when we did
                warnings.filterwarnings("ignore", "In write-only mode you must add table columns")
                ws.add_table(table)
            self._add_highlights(ws, page.rows)
        else:
            ws.auto_filter.ref = ref
        if ws.streamed:
            ws.close()   # its archive entry is finished before the next page's starts

    def _add_highlights(self, ws, rows: int) -> None:
        for i, column in enumerate(self.columns, 1):
            letter = get_column_letter(i)
            cells = f"{letter}2:{letter}{rows + 1}"
            for value, (fill, font) in column.highlight.items():
                ws.conditional_formatting.add(cells, CellIsRule(
                    operator="equal",
                    formula=['"' + value.replace('"', '""') + '"'],
                    fill=PatternFill("solid", start_color=fill, end_color=fill),
                    font=Font(color=font, bold=True),
                ))

    def _cell(self, value, **style):
        cell = WriteOnlyCell(self._ws, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # never a formula, whatever the text
        for name, item in style.items():
            setattr(cell, name, item)
        return cell


def _unique_headers(columns: list[Column]) -> list[Column]:
    """Excel tables need distinct column names (compared case-insensitively)."""
    seen, unique = set(), []
    for column in columns:
        header, n = column.header, 1
        while header.lower() in seen:
            n += 1
            header = f"{column.header} ({n})"
        seen.add(header.lower())
        unique.append(column if header == column.header else replace(column, header=header))
    return unique
