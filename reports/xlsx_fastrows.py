"""A write-only worksheet that serializes plain cells itself, for speed.

Without lxml, openpyxl serializes every cell through the pure-Python ``et_xmlfile`` (three XML
elements per text cell): about 70 % of the time of a 100,000-finding workbook. ``FastSheet``
writes plain text and number cells as the very same XML text openpyxl would produce, straight
into openpyxl's stream; everything else (styled cells, bools, and the sheet's head and tail)
still goes through openpyxl. Two plain-value shapes are recognized:

* ``str`` -> ``<c r=".." t="inlineStr"><is><t>..</t></is></c>`` (never a formula: the fast
  path cannot emit ``<f>``), ``int``/``float`` -> ``<c r=".." t="n"><v>..</v></c>``;
* ``Link(text, url)`` -> a text cell in the sheet's link style plus a hyperlink;
* ``Wrapped(text)`` -> a text cell in the sheet's wrap style (top-aligned, wrapped).

``append(row, height=...)`` gives the row an explicit height in points (``<row ht=".."
customHeight="1">``) without keeping a row-dimension object per row, so a 500,000-row sheet of
tall rows stays as flat in memory as one without.

When the stream is not et_xmlfile's (lxml installed: openpyxl is fast there anyway) or
``FAST_ROWS`` is False, rows go through openpyxl unchanged. tests/reports check that both
paths produce byte-identical worksheets.
"""

from __future__ import annotations

from typing import NamedTuple

from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell._writer import write_cell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.dimensions import RowDimension
from openpyxl.worksheet.hyperlink import Hyperlink

FAST_ROWS = True
_CELL_MAX = 32_767  # openpyxl cuts longer strings there (CellText has already cut them)


class Link(NamedTuple):
    text: str
    url: str


class Wrapped(NamedTuple):
    text: str


class FastSheet(WriteOnlyWorksheet):
    """``append`` rows of str / int / float / None / ``Link`` / ``Wrapped`` / openpyxl cells."""

    def __init__(self, parent, title, link_font, wrap_alignment=None):
        super().__init__(parent, title)
        self.link_font = link_font
        self.wrap_alignment = wrap_alignment
        self._letters: list[str] = []
        self._link_style = None
        self._wrap_style = None
        self._height = None
        self._row_attrs: dict[float, str] = {}

    def append(self, row, height: float | None = None):
        """``height`` (points) applies to this row only."""
        self._height = height
        try:
            super().append(row)
        finally:
            self._height = None

    @classmethod
    def add_to(cls, workbook, title: str, link_font, index: int | None = None, wrap_alignment=None) -> FastSheet:
        sheet = cls(parent=workbook, title=title, link_font=link_font, wrap_alignment=wrap_alignment)
        workbook._add_sheet(sheet, index)
        return sheet

    def _write_rows(self):
        # Same protocol as WriteOnlyWorksheet._write_rows (a generator fed by ``append``).
        try:
            xf = self._writer.xf.send(True)
        except StopIteration:
            self._already_saved()
        raw = getattr(xf, "_file", None) if FAST_ROWS else None
        with xf.element("sheetData"):
            row_idx = 1
            try:
                while True:
                    row = (yield)
                    if raw is None or row_idx in self.row_dimensions:
                        self._write_slow(xf, row, row_idx)
                    else:
                        self._write_fast(xf, raw, row, row_idx)
                    row_idx += 1
            except GeneratorExit:
                pass
        self._writer.xf.send(None)

    def _write_slow(self, xf, row, row_idx):
        """openpyxl's own path; a per-row height lives in ``row_dimensions`` only while written."""
        added = self._height is not None and row_idx not in self.row_dimensions
        if added:
            self.row_dimensions[row_idx].height = self._height
        try:
            self._writer.write_row(xf, self._values_to_row(self._as_cells(row), row_idx), row_idx)
        finally:
            if added:
                del self.row_dimensions[row_idx]

    def _as_cells(self, row):
        """The row for openpyxl's own path: ``Link`` and ``Wrapped`` become styled cells."""
        for value in row:
            if isinstance(value, Link):
                cell = WriteOnlyCell(self, value.text)
                cell.font = self.link_font
                cell.hyperlink = value.url
                value = cell
            elif isinstance(value, Wrapped):
                value = self._wrapped_cell(value.text)
            yield value

    def _wrapped_cell(self, text):
        cell = WriteOnlyCell(self, text)
        if isinstance(text, str):
            cell.data_type = "s"   # never a formula
        if self.wrap_alignment is not None:
            cell.alignment = self.wrap_alignment
        return cell

    def _row_open(self, row_idx) -> str:
        if self._height is None:
            return f'<row r="{row_idx}">'
        attrs = self._row_attrs.get(self._height)
        if attrs is None:   # the very attributes openpyxl writes for a RowDimension of this height
            probe = RowDimension(self, index=1, ht=self._height)
            attrs = "".join(f' {k}="{v}"' for k, v in probe)
            self._row_attrs[self._height] = attrs
        return f'<row r="{row_idx}"{attrs}>'

    def _write_fast(self, xf, raw, row, row_idx):
        letters = self._letters
        while len(letters) < len(row):
            letters.append(get_column_letter(len(letters) + 1))
        raw(self._row_open(row_idx))
        for col, value in enumerate(row):
            if value is None:
                continue
            kind = type(value)
            if kind is str or kind is Link or kind is Wrapped:
                text = value if kind is str else value.text
                style = ""
                if kind is Link:
                    style = f' s="{self._link_style_id()}"'
                    self._hyperlinks.append(Hyperlink(ref=f"{letters[col]}{row_idx}", target=value.url))
                elif kind is Wrapped:
                    if not isinstance(text, str):
                        self._write_cell(xf, value, col, row_idx)
                        continue
                    style = f' s="{self._wrap_style_id()}"'
                if text == "" or ILLEGAL_CHARACTERS_RE.search(text):
                    self._write_cell(xf, value, col, row_idx)  # empty or illegal: openpyxl decides
                    continue
                text = text[:_CELL_MAX]
                stripped = text.strip()
                space = ' xml:space="preserve"' if stripped and stripped != text else ""
                text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                raw(f'<c r="{letters[col]}{row_idx}"{style} t="inlineStr"><is><t{space}>{text}</t></is></c>')
            elif kind is int or kind is float:
                raw(f'<c r="{letters[col]}{row_idx}" t="n"><v>{_number(value)}</v></c>')
            else:
                self._write_cell(xf, value, col, row_idx)
        raw("</row>")

    def _write_cell(self, xf, value, col, row_idx):
        if isinstance(value, Link):
            value = value.text  # the hyperlink is already recorded
        elif isinstance(value, Wrapped):
            value = self._wrapped_cell(value.text)
        cell = value if isinstance(value, Cell) else WriteOnlyCell(self, value)
        cell.column, cell.row = col + 1, row_idx
        if cell.hyperlink is not None:
            cell.hyperlink.ref = cell.coordinate
        write_cell(xf, self, cell, cell.has_style)

    def _link_style_id(self) -> int:
        if self._link_style is None:
            cell = WriteOnlyCell(self, "")
            cell.font = self.link_font
            self._link_style = cell.style_id
        return self._link_style


    def _wrap_style_id(self) -> int:
        if self._wrap_style is None:
            self._wrap_style = self._wrapped_cell("").style_id
        return self._wrap_style


def _number(value) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        return ""
    return "%.16g" % value
