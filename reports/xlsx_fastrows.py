"""A write-only worksheet that serializes plain cells itself, for speed.

Without lxml, openpyxl serializes every cell through the pure-Python ``et_xmlfile`` (three XML
elements per text cell). ``FastSheet`` writes plain text and number cells as the very same XML text
openpyxl would produce, straight into openpyxl's stream; everything else (styled cells, bools, the
sheet's head and tail) still goes through openpyxl. Its links are written as text too
(``reports/xlsx_links.py``).

Table rows (``append_values``) are the fast path: the sheet knows which column carries the row's
link and which columns wrap (``set_columns``), each column's cell prefix is built once, and a row is
one string: ``<c r="B7" t="inlineStr"><is><t>..</t></is></c>`` for text (never a formula: this
path cannot emit ``<f>``), ``<c r="F7" t="n"><v>..</v></c>`` for numbers, the link and wrap styles
on their columns' text cells and the row's height (points) on ``<row>``. Short text repeats (names,
ids), so the XML after ``r="B7`` of a short text cell is built once per sheet and style. A text cell holding a
character XML cannot carry (or an empty one) goes through openpyxl, which decides (CellText never
lets one through).

``append(row, height=...)`` takes rows of str / int / float / None / openpyxl cells and two
wrappers: ``Link(text, url)`` (a text cell in the sheet's link style plus a hyperlink) and
``Wrapped(text)`` (a text cell in the wrap style). A row height is written without keeping a
row-dimension object per row, so a 500,000-row sheet of tall rows stays flat in memory.

When the stream is not et_xmlfile's (lxml installed: openpyxl is fast there anyway) or
``FAST_ROWS`` is False, every row goes through openpyxl unchanged. tests/reports check that both
paths produce byte-identical worksheets.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell._writer import write_cell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.dimensions import RowDimension

from .xlsx_links import LinkWriter
from .xlsx_pipe import DeflatingPipe

FAST_ROWS = True
_CELL_MAX = 32_767  # openpyxl cuts longer strings there (CellText has already cut them)
# characters a text cell's XML cannot take (openpyxl's illegal ones; str.isprintable() is False
# for every one of them, so printable text, most of it, skips the scan)
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]").search
_PLAIN, _WRAP, _LINK = 0, 1, 2
_TEXT_END = "</t></is></c>"
FRAGMENT_CHARS = 256       # a sheet remembers the XML of text cells up to this long ...
FRAGMENT_ENTRIES = 200_000  # ... per style, and forgets them when it holds this many


class Link(NamedTuple):
    text: str
    url: str


class Wrapped(NamedTuple):
    text: str


class FastSheet(WriteOnlyWorksheet):
    """``append`` rows of str / int / float / None / ``Link`` / ``Wrapped`` / openpyxl cells, or
    ``append_values`` table rows after ``set_columns``."""

    def __init__(self, parent, title, link_font, wrap_alignment=None, archive=None, part=None):
        super().__init__(parent, title)
        self._archive = archive   # a ZipFile: the sheet's XML goes straight into it (see ``path``)
        self._part = part
        self.link_font = link_font
        self.wrap_alignment = wrap_alignment
        self._letters: list[str] = []
        self._opens: list[str] = []
        self._link_style = None
        self._wrap_style = None
        self._height = None
        self._row_attrs: dict[float, str] = {}
        self._modes: list[int] = []
        self._link_col: int | None = None
        self._mids: list[str | None] = [None, None, None]   # by mode: '" s=".." t="inlineStr"><is><t'
        self._frags: list[dict[str, str]] = [{}, {}, {}]    # by mode: short text -> its cell after r="A1
        self._raw = None
        self._xf = None
        self._next_row = 1
        self._abandoned = False

    @classmethod
    def add_to(cls, workbook, title: str, link_font, index: int | None = None, wrap_alignment=None,
               archive=None, part: int | None = None) -> FastSheet:
        """With ``archive`` (a ZipFile) and ``part``, the sheet is ``xl/worksheets/sheet<part>.xml``,
        written into the archive as its rows come (it must be closed before the next one starts)."""
        sheet = cls(parent=workbook, title=title, link_font=link_font, wrap_alignment=wrap_alignment,
                    archive=archive if part is not None else None, part=part)
        workbook._add_sheet(sheet, index)
        return sheet

    @property
    def path(self):
        if self._archive is None:
            return super().path
        return f"/xl/worksheets/sheet{self._part}.xml"

    @property
    def streamed(self) -> bool:
        """Its XML is in the archive already (nothing to copy from a temporary file)."""
        return self._archive is not None

    def set_columns(self, count: int, link_col: int | None, wrap_cols) -> None:
        """The table's shape for ``append_values``: which column links, which columns wrap."""
        self._modes = [_WRAP if col in set(wrap_cols) else _PLAIN for col in range(count)]
        self._link_col = link_col
        if link_col is not None:
            self._modes[link_col] = _LINK

    def _get_writer(self):
        if self._writer is None:
            out = None
            if self._archive is not None:   # compressed as it is written: no temporary file to copy
                out = DeflatingPipe(self._archive.open(self.path[1:], "w", force_zip64=True))
            self._writer = LinkWriter(self, out=out)
            self._writer.write_top()

    def abandon(self) -> None:
        """The workbook will not be finished (its render failed or was interrupted): stop the row
        writer without closing its XML, so that nothing is written into streams being torn down
        (at exit, the collector would otherwise close it after its text wrapper is gone)."""
        self._abandoned = True
        rows, self._rows = self._rows, None
        if rows is not None:
            rows.close()

    def close(self):
        super().close()
        self._frags = [{}, {}, {}]   # the remembered cells are of no use once the sheet is written
        if self._archive is not None:
            self._writer.out.close()   # the archive entry is complete (its compression finished)

    def append(self, row, height: float | None = None):
        """``height`` (points) applies to this row only."""
        self._height = height
        try:
            super().append(row)
        finally:
            self._height = None

    def append_values(self, values: list, url: str | None = None, height: float | None = None) -> None:
        """A table row: ``url`` links the text in the link column; text in wrap columns wraps."""
        if self._rows is None:
            self._get_writer()
            self._rows = self._write_rows()
            next(self._rows)
        raw = self._raw
        if raw is None or self._next_row in self.row_dimensions:
            self.append(self._wrapped(values, url), height)
            return
        self._write_values(raw, values, url, height)
        self._next_row += 1

    def _wrapped(self, values, url):
        """The row as ``append`` takes it (the reference path)."""
        row = list(values)
        for col, mode in enumerate(self._modes):
            value = row[col]
            if type(value) is str:
                if mode == _LINK and url is not None:
                    row[col] = Link(value, url)
                elif mode == _WRAP:
                    row[col] = Wrapped(value)
        return row

    def _write_rows(self):
        # Same protocol as WriteOnlyWorksheet._write_rows (a generator fed by ``append``).
        try:
            xf = self._writer.xf.send(True)
        except StopIteration:
            self._already_saved()
        raw = getattr(xf, "_file", None) if FAST_ROWS else None
        self._xf, self._raw = xf, raw
        with xf.element("sheetData"):
            try:
                while True:
                    row = (yield)
                    row_idx = self._next_row
                    if raw is None or row_idx in self.row_dimensions:
                        self._write_slow(xf, row, row_idx)
                    else:
                        self._write_fast(xf, raw, row, row_idx)
                    self._next_row += 1
            except GeneratorExit:
                if self._abandoned:
                    raise   # out through the sheetData element without writing its end tag
        self._raw = self._xf = None
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

    def _row_open(self, row_idx, height) -> str:
        if height is None:
            return f'<row r="{row_idx}">'
        attrs = self._row_attrs.get(height)
        if attrs is None:   # the very attributes openpyxl writes for a RowDimension of this height
            probe = RowDimension(self, index=1, ht=height)
            attrs = "".join(f' {k}="{v}"' for k, v in probe)
            self._row_attrs[height] = attrs
        return f'<row r="{row_idx}"{attrs}>'

    def _columns(self, count: int) -> list[str]:
        letters, opens = self._letters, self._opens
        while len(letters) < count:
            letters.append(get_column_letter(len(letters) + 1))
            opens.append(f'<c r="{letters[-1]}')
        return opens

    def _mid(self, mode: int) -> str:
        """What follows the cell reference of a text cell in ``mode``, up to ``<t``."""
        mid = self._mids[mode]
        if mid is None:   # styles are registered on first use, in the order openpyxl would
            style = ""
            if mode == _LINK:
                style = f' s="{self._link_style_id()}"'
            elif mode == _WRAP:
                style = f' s="{self._wrap_style_id()}"'
            mid = self._mids[mode] = f'"{style} t="inlineStr"><is><t'
        return mid

    def _write_values(self, raw, values, url, height):
        row_idx = self._next_row
        r = str(row_idx)
        opens = self._columns(len(values))
        modes, mids, frags = self._modes, self._mids, self._frags
        if len(modes) < len(values):   # more values than set_columns said: plain text
            modes.extend([_PLAIN] * (len(values) - len(modes)))
        out = [self._row_open(row_idx, height)]
        add = out.append
        for col, value in enumerate(values):
            if value is None:
                continue
            kind = type(value)
            if kind is str:
                mode = modes[col]
                if mode == _LINK:
                    if url is None:
                        mode = _PLAIN
                    else:
                        self._hyperlinks.append((f"{self._letters[col]}{r}", url))
                frag = frags[mode].get(value)
                if frag is None:
                    if not value or (not value.isprintable() and _ILLEGAL(value) is not None):
                        raw("".join(out))   # empty or illegal: openpyxl decides
                        out = [""]
                        add = out.append
                        wrapped = Link(value, url) if mode == _LINK else Wrapped(value) if mode == _WRAP else value
                        self._write_cell(self._xf, wrapped, col, row_idx)
                        continue
                    frag = f"{mids[mode] or self._mid(mode)}{_text(value)}{_TEXT_END}"
                    if len(value) <= FRAGMENT_CHARS:
                        if len(frags[mode]) >= FRAGMENT_ENTRIES:
                            frags[mode].clear()
                        frags[mode][value] = frag
                add(f"{opens[col]}{r}{frag}")
            elif kind is int:
                add(f'{opens[col]}{r}" t="n"><v>{"%.16g" % value}</v></c>')
            elif kind is float:
                add(f'{opens[col]}{r}" t="n"><v>{_number(value)}</v></c>')
            else:
                raw("".join(out))
                out = [""]
                add = out.append
                self._write_cell(self._xf, value, col, row_idx)
        add("</row>")
        raw("".join(out))

    def _write_fast(self, xf, raw, row, row_idx):
        self._columns(len(row))
        letters = self._letters
        raw(self._row_open(row_idx, self._height))
        for col, value in enumerate(row):
            if value is None:
                continue
            kind = type(value)
            if kind is str or kind is Link or kind is Wrapped:
                text = value if kind is str else value.text
                mode = _PLAIN
                if kind is Link:
                    mode = _LINK
                    self._hyperlinks.append((f"{letters[col]}{row_idx}", value.url))
                elif kind is Wrapped:
                    if not isinstance(text, str):
                        self._write_cell(xf, value, col, row_idx)
                        continue
                    mode = _WRAP
                if text == "" or _ILLEGAL(text):
                    self._write_cell(xf, value, col, row_idx)  # empty or illegal: openpyxl decides
                    continue
                raw(f'{self._opens[col]}{row_idx}{self._mid(mode)}{_text(text)}{_TEXT_END}')
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


def _text(text: str) -> str:
    """``>`` and the escaped text of a non-empty, legal string, as openpyxl writes it: cut at
    Excel's limit, ``xml:space="preserve"`` when it has leading or trailing whitespace."""
    if len(text) > _CELL_MAX:
        text = text[:_CELL_MAX]
    stripped = text.strip()
    space = ' xml:space="preserve">' if stripped and stripped is not text and stripped != text else ">"
    if "&" in text or "<" in text or ">" in text:   # str searches: far faster than a regex scan
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return space + text


def _number(value) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        return ""
    return "%.16g" % value
