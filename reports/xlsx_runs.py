"""Filling a table sheet from its items, in runs made by forked processes when the table is big.

``fill(sheet, source, …)`` appends the rows of ``source`` to a ``PagedSheet``. A big table on a
machine with more than one CPU is cut into contiguous runs of items (``xlsx_parts.runs``): forked
processes make runs 2, 3 … as deflate segments while this process writes run 1 straight into the
sheet; then the segments are spliced in, in order (``reports/xlsx_parts.py`` says why the result
is the workbook one process would write). A run whose process failed is written here from its
items when its turn comes.

A ``Source`` says what a table is made of: its items (a list, or the engine's ``FindingStore`` /
``Spool``, which forked processes can read at once), the rows some items make, how many rows the
items before a run make (one each unless ``before`` says otherwise), and what its rows gather on
the way (``state``: the Findings sheet's summary tally), made afresh for a run and merged back in
run order. The cleaner's counts of neutralized and cut text travel with each run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from .xlsx_parts import RunFailed, collect, runs, start, temporary, workers
from .streaming import reporting_rows


@dataclass
class Source:
    items: object                                   # list / tuple, FindingStore or Spool
    rows: Callable[[Iterable, object], Iterator]     # (items, state) -> (values, url) rows
    before: Callable[[Iterable], int] | None = None  # rows made by the items before a run (None: 1 each)
    state: object = None                             # this process's; ``fresh()``/``merge(run)`` for runs
    fresh: Callable[[], object] | None = None
    merge: Callable[[object, object], None] | None = None
    limit: int | None = None                         # at most this many items (the Access sheet's cap)

    def count(self) -> int:
        return len(self.items) if self.limit is None else min(self.limit, len(self.items))

    def span(self, begin: int, end: int) -> Iterator:
        items = self.items
        if isinstance(items, (list, tuple)):
            return iter(items[begin:end])
        if _spooled(items):
            return items.items(begin, end)
        return islice(iter(items), begin, end)

    def splittable(self) -> bool:
        """Whether forked processes can each read their own run of the items."""
        return isinstance(self.items, (list, tuple)) or _spooled(self.items)


def _spooled(items) -> bool:
    """The engine's FindingStore or Spool (ranges read at explicit offsets, ``share`` before forking)."""
    return hasattr(items, "share") and hasattr(items, "items")


def fill(sheet, source: Source, text, *, processes: int | None = None, progress=None, label: str = "",
         total: int | None = None) -> None:
    """Append ``source``'s rows to ``sheet`` (see the module docstring)."""
    count = source.count()
    spans = runs(count, workers() if processes is None else processes)
    if len(spans) > 1 and not (source.splittable() and sheet.takes_runs()):
        spans = [(0, count)]
    if len(spans) == 1:
        rows = source.rows(source.span(0, count), source.state)
        for values, url in reporting_rows(rows, progress, label, total):
            sheet.append(values, url)
        return
    sheet.share_styles()
    share = getattr(source.items, "share", None)
    if share is not None:
        share()
    started = []   # (begin, end, pid or None, handle or None), in run order
    try:
        for begin, end in spans[1:]:
            handle = pid = None
            try:
                handle = temporary()
                pid = start(lambda fd, b=begin, e=end: _run(sheet, source, text, b, e, fd), handle)
            except OSError as err:   # no file or process to be had: this one writes the run in its turn
                print(f"kv-audit: cannot start a spreadsheet run process ({err}); writing its rows in this process",
                      file=sys.stderr)
            started.append((begin, end, pid, handle))
        first = spans[0]
        for n, (values, url) in enumerate(source.rows(source.span(*first), source.state), 1):
            sheet.append(values, url)
            if progress is not None and n % 1000 == 0:
                progress("write", text=f"{label} rows {n} of {count} (in {len(spans)} processes)")
        while started:
            begin, end, pid, handle = started.pop(0)   # out of the list first: collect reaps it
            try:
                segment = collect(pid, handle) if pid is not None else None
            except BaseException:
                _close(handle)
                raise
            if segment is not None and not _fits(segment, sheet, source, begin, end):
                print(f"kv-audit: a spreadsheet run of {sheet.title} does not fit where it goes; writing its rows "
                      "in this process", file=sys.stderr)
                segment = None
            if segment is not None:
                sheet.append_segment(segment)   # the segment's file is closed once spliced
                _, state, neutralized, truncated = segment.state   # (first row, state, cleaner counts)
                text.neutralized += neutralized
                text.truncated += truncated
                if source.merge is not None:
                    source.merge(source.state, state)
            else:
                _close(handle)
                for values, url in source.rows(source.span(begin, end), source.state):
                    sheet.append(values, url)
            if progress is not None:
                progress("write", text=f"{label} rows {end} of {count}")
        if progress is not None:
            progress("write", text=f"{label} rows {count} of {count}", done=True)
    except BaseException:
        from audit_function.engine.parallel import wait_all

        wait_all([pid for _, _, pid, _ in started if pid is not None], stop=True)
        raise
    finally:
        for _, _, _, handle in started:
            _close(handle)


def _fits(segment, sheet, source: Source, begin: int, end: int) -> bool:
    """A run's segment starts where the sheet has got to and has one row per item (when that is the
    table's shape)."""
    first = segment.state[0]
    return first == sheet.rows_written() and (source.before is not None or segment.rows == end - begin)


def _close(handle) -> None:
    if handle is not None:
        handle.close()


def _run(sheet, source: Source, text, begin: int, end: int, fd: int) -> dict:
    """(In the forked process.) Run ``begin``–``end`` of ``source`` as a segment in ``fd``."""
    from .xlsx_parts import SegmentSink

    first = begin if source.before is None else source.before(source.span(0, begin))
    if first + (end - begin) > sheet.capacity and source.before is None:
        raise RunFailed(f"{sheet.title}: more rows than one sheet holds")
    neutralized, truncated = text.neutralized, text.truncated
    state = source.fresh() if source.fresh is not None else None
    sink = SegmentSink(fd)
    meta = sheet.write_run(sink, source.rows(source.span(begin, end), state), first)
    meta["state"] = (first, state, text.neutralized - neutralized, text.truncated - truncated)
    return meta
