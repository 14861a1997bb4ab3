"""A fast worksheet whose rows can also be made by other processes (``reports/xlsx_runs.py``).

``RunSheet`` is the ``FastSheet`` every table page is. In the parent, ``share_styles`` registers
the table's cell styles before any process forks, and ``splice(segment)`` puts a run another
process wrote into the sheet's stream after the rows written so far. In a forked process,
``run_writer`` makes a sheet outside the workbook that writes rows exactly as this one would, from
a given row number, into an ``xlsx_parts.SegmentSink``; ``end_run`` ends the segment.
"""

from __future__ import annotations

from .xlsx_fastrows import FastSheet
from .xlsx_links import LinkWriter


class RunSheet(FastSheet):
    def share_styles(self) -> None:
        """Register the styles of this table's text cells now, in column order (as its first full
        row would): a forked run must find them registered, never add its own."""
        for mode in self._modes:
            self._mid(mode)

    def can_splice(self) -> bool:
        out = getattr(self._writer, "out", None)
        return (self._raw is not None and self._archive is not None and self._next_row not in self.row_dimensions
                and hasattr(out, "splice") and out.can_splice())

    def run_writer(self, sink, first_row: int) -> RunSheet:
        """(In a forked process.) A sheet outside the workbook that writes rows exactly as this one
        would, from row ``first_row`` on, into ``sink`` (an ``xlsx_parts.SegmentSink``, which keeps
        only the rows)."""
        ws = RunSheet(self.parent, self.title, self.link_font, self.wrap_alignment)
        ws._modes, ws._link_col, ws._mids = list(self._modes), self._link_col, list(self._mids)
        ws._link_style, ws._wrap_style = self._link_style, self._wrap_style
        ws._writer = LinkWriter(ws, out=sink)
        ws._writer.write_top()
        ws._rows = ws._write_rows()
        next(ws._rows)
        if ws._raw is None:
            raise TypeError("the XML stream has no raw writer")
        ws._raw.__self__.flush()   # the sheet's head, still in the text wrapper, is not the run's
        sink.recording = True
        ws._next_row = first_row
        return ws

    def end_run(self, sink) -> None:
        self._raw.__self__.flush()
        sink.stop()

    def splice(self, segment) -> None:
        """A run another process wrote (its rows follow the rows written so far)."""
        self._raw.__self__.flush()   # what this sheet wrote goes first
        self._writer.out.splice(segment)
        self._next_row += segment.rows
        self._hyperlinks.extend(segment.links)
