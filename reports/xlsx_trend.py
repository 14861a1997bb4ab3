"""The Summary sheet's trend block: ``summary.trend`` as a table and a line chart.

One row per run (oldest first, the current run last) with its unsuppressed counts by severity and
the findings new and resolved in that run. The chart needs two runs; with one (a first run) or
none (a report without a history) the block says so instead. A missing or non-numeric count is an
empty cell (the chart leaves a gap there), never a zero.
"""

from __future__ import annotations

from openpyxl.chart import LineChart, Reference

from .summary_tables import TREND_FIELDS, trend_label, trend_points
from .xlsx_rows import SEVERITY_STYLE

TREND_TITLE = "Trend (week over week, summary.trend)"
SERIES_COLOURS = {"high": SEVERITY_STYLE["high"][0], "medium": "ED7D31", "low": "FFC000",
                  "new": "4472C4", "resolved": "70AD47"}
FIRST_RUN_NOTE = "First run: the trend starts with the next run into the same folder (state file)."
NO_TREND_NOTE = ("No trend in this report (summary.trend is absent): runs that keep a state file "
                 "record one point per run.")


def write_trend(sheet, summary, anchor_column: str = "J") -> tuple[int, bool]:
    """Writes the block on ``sheet`` (xlsx_summary's line writer); returns (header row, charted)."""
    points = trend_points(summary)
    sheet.blank()
    sheet.line(TREND_TITLE, font=sheet.section_font)
    if not points:
        sheet.line(NO_TREND_NOTE)
        return sheet.row, False
    head = sheet.line("Run", *[name.capitalize() for name in TREND_FIELDS], font=sheet.head_font,
                      fill=sheet.head_fill)
    for n, point in enumerate(points, 1):
        sheet.line(point["runAt"] or trend_label(point, n), *[point[name] for name in TREND_FIELDS])
    last = sheet.row
    if len(points) < 2:
        sheet.line(FIRST_RUN_NOTE)
        return head, False
    sheet.ws.add_chart(_chart(sheet.ws, head, last), f"{anchor_column}{head}")
    return head, True


def _chart(ws, head: int, last: int) -> LineChart:
    chart = LineChart()
    chart.title = "Findings per run"
    chart.y_axis.title = "Findings"
    chart.x_axis.title = "Run"
    chart.display_blanks = "gap"
    chart.add_data(Reference(ws, min_col=2, max_col=1 + len(TREND_FIELDS), min_row=head, max_row=last),
                   titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=head + 1, max_row=last))
    for name, series in zip(TREND_FIELDS, chart.series):
        series.graphicalProperties.line.solidFill = SERIES_COLOURS[name]
        series.graphicalProperties.line.width = 28_575   # 2.25 pt, in EMU
        if name in ("new", "resolved"):
            series.graphicalProperties.line.dashStyle = "dash"
        series.smooth = False
    chart.height, chart.width = 7.5, 16
    return chart
