"""Hyperlinks of the fast worksheets, written as text instead of one openpyxl object each.

A big workbook carries up to 65,530 links per sheet (``EXCEL_MAX_LINKS``) on four sheets. openpyxl
keeps a ``Hyperlink`` and a ``Relationship`` object per link and serializes both through the
pure-Python ElementTree writer: about a sixth of the time of a 10,000-vault workbook. Here a fast
sheet records each link as ``(cell reference, target)`` and the two places they end up are written
directly, as the very same bytes openpyxl writes (tests/reports compare both paths byte for byte):

* the worksheet's ``<hyperlinks>`` element, one ``<hyperlink ref=".." r:id="rIdN" />`` per link
  (``LinkWriter.write_hyperlinks``, in the tail where openpyxl puts it);
* the worksheet's relationships part, ``rId1`` … ``rIdN`` the links (external targets) followed by
  the sheet's own relationships (its table), which openpyxl numbers after them
  (``FastExcelWriter.write_worksheet``).

A sheet whose link list holds anything else (an openpyxl ``Hyperlink`` from a styled cell) is left
entirely to openpyxl.
"""

from __future__ import annotations

from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.packaging.relationship import RelationshipList, get_rels_path
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.table import Table
from openpyxl.writer.excel import ExcelWriter
from openpyxl.xml.constants import PKG_REL_NS, REL_NS
from openpyxl.xml.functions import tostring

HYPERLINK_TYPE = f"{REL_NS}/hyperlink"


#: what ElementTree writes for these characters in an attribute value (``&`` first)
_ATTRIBUTE_REFS = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("\r", "&#13;"),
                   ("\n", "&#10;"), ("\t", "&#09;"))


def escape_attribute(text: str) -> str:
    """An XML attribute value, escaped exactly as ElementTree escapes it (``&<>"`` and CR/LF/tab as
    character references, so a line end in a target survives attribute normalization)."""
    for char, ref in _ATTRIBUTE_REFS:
        if char in text:
            text = text.replace(char, ref)
    return text


class LinkRels(RelationshipList):
    """A sheet's relationships when its first ``len(targets)`` are hyperlinks kept as plain text.

    Relationships added later (the table) are numbered after the links, as openpyxl numbers them."""

    def __init__(self, targets: list[str]):
        super().__init__()
        self.targets = targets

    def __len__(self) -> int:
        return len(self.targets) + super().__len__()

    def xml(self) -> bytes:
        head = f'<Relationships xmlns="{PKG_REL_NS}">'
        links = "".join(
            f'<Relationship Type="{HYPERLINK_TYPE}" Target="{escape_attribute(target)}" '
            f'TargetMode="External" Id="rId{n}" />' for n, target in enumerate(self.targets, 1))
        own = "".join(tostring(rel.to_tree()).decode() for rel in list.__iter__(self))
        return f"{head}{links}{own}</Relationships>".encode()


class _WrittenRels:
    """Stands in for a sheet's relationships once they are in the archive (openpyxl then only sets
    the table's target, which was already written, and skips writing the part again)."""

    def __init__(self, rels: LinkRels):
        self._rels = rels

    def get(self, key):
        return self._rels.get(key)

    def __bool__(self) -> bool:
        return False


class LinkWriter(WorksheetWriter):
    """openpyxl's worksheet writer, with the sheet's simple links written as text."""

    def write_hyperlinks(self):
        links = self.ws._hyperlinks
        if not links:
            return
        if len(self._rels) or not all(type(link) is tuple and link[1] for link in links):
            self.ws._hyperlinks = [Hyperlink(ref=link[0], target=link[1]) if type(link) is tuple else link
                                   for link in links]
            return super().write_hyperlinks()
        raw = getattr(self.xf.send(True), "_file", None)
        self.xf.send(None)
        if raw is None:
            self.ws._hyperlinks = [Hyperlink(ref=ref, target=target) for ref, target in links]
            return super().write_hyperlinks()
        self._rels = LinkRels([target for _, target in links])
        ns = f'xmlns:r="{REL_NS}"'
        raw("<hyperlinks>")
        batch = 4096
        for start in range(0, len(links), batch):
            raw("".join(f'<hyperlink {ns} ref="{ref}" r:id="rId{n}" />'
                        for n, (ref, _) in enumerate(links[start:start + batch], start + 1)))
        raw("</hyperlinks>")


class FastExcelWriter(ExcelWriter):
    """openpyxl's package writer; a sheet whose links are text gets its relationships written here."""

    def write_worksheet(self, ws):
        if getattr(ws, "streamed", False):
            if not ws.closed:
                ws.close()
            ws._drawing = SpreadsheetDrawing()   # what openpyxl's own write_worksheet sets up, but
            ws._drawing.charts = ws._charts      # the XML itself is already in the archive
            ws._drawing.images = ws._images
            ws._rels = ws._writer._rels
            self.manifest.append(ws)
        else:
            if ws.path in self._streamed_paths():
                raise RuntimeError(f"worksheet part {ws.path} is taken by a streamed sheet")
            super().write_worksheet(ws)
        rels = ws._rels
        if not isinstance(rels, LinkRels):
            return
        # openpyxl numbers tables across the workbook in sheet order, right after this call
        for n, table in enumerate(ws._tables.values(), len(self._tables) + 1):
            rels.get(table._rel_id).Target = "/xl" + Table._path.format(n)
        self._archive.writestr(get_rels_path(ws.path)[1:], rels.xml())
        ws._rels = _WrittenRels(rels)

    def _streamed_paths(self) -> set[str]:
        return {ws.path for ws in self.workbook.worksheets if getattr(ws, "streamed", False)}
