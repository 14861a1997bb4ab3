"""Inline SVG charts for the HTML report: drawn here, no chart library, nothing fetched.

Every label is escaped (it may be estate text); colours come from CSS classes, never from
``style`` attributes (the page's Content-Security-Policy allows only its own hashed stylesheet).
"""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup, escape

ROW = 24
LABEL_WIDTH = 230
BAR_WIDTH = 360
VALUE_WIDTH = 70


def bar_chart(items: Iterable[tuple[str, int, str]], *, title: str, chart_id: str) -> Markup:
    """A horizontal bar chart: one (label, value, css class) per bar, scaled to the largest value."""
    rows = [(str(label), max(int(value or 0), 0), str(cls)) for label, value, cls in items]
    if not rows:
        return Markup('<p class="empty">{}</p>').format(f"{title}: nothing to show")
    top = max((value for _, value, _ in rows), default=0) or 1
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    height = ROW * len(rows) + 8
    parts = [Markup('<svg class="chart" id="{}" role="img" aria-labelledby="{}-t" viewBox="0 0 {} {}" '
                    'width="{}" height="{}" xmlns="http://www.w3.org/2000/svg"><title id="{}-t">{}</title>')
             .format(chart_id, chart_id, width, height, width, height, chart_id, title)]
    for i, (label, value, cls) in enumerate(rows):
        y = 4 + i * ROW
        bar = round(BAR_WIDTH * value / top) if value else 0
        shown = label if len(label) <= 32 else label[:31] + "\u2026"
        parts.append(Markup(
            '<g class="bar {cls}"><title>{label}: {value}</title>'
            '<text class="label" x="{lx}" y="{ty}" text-anchor="end">{shown}</text>'
            '<rect x="{bx}" y="{ry}" width="{bar}" height="{h}" rx="2"></rect>'
            '<text class="value" x="{vx}" y="{ty}">{value}</text></g>').format(
                cls=cls, label=label, value=f"{value:,}", shown=shown, lx=LABEL_WIDTH - 8, ty=y + 16,
                bx=LABEL_WIDTH, ry=y + 3, bar=max(bar, 1 if value else 0), h=ROW - 6,
                vx=LABEL_WIDTH + max(bar, 1) + 6))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


LINE_WIDTH, LINE_HEIGHT = 640, 240
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 16, 12, 44
MAX_X_LABELS = 8


def line_chart(labels: list[str], series: dict[str, list], *, title: str, chart_id: str) -> Markup:
    """A line chart: one x position per label (oldest first), one line per series (css class
    ``line-<name>``). A missing value (None) breaks its line there. Fewer than two points draw
    nothing: the caller shows the table and a first-run note instead."""
    if len(labels) < 2:
        return Markup("")
    values = [v for line in series.values() for v in line if isinstance(v, int)]
    top = max(values, default=0) or 1
    inner_w = LINE_WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = LINE_HEIGHT - PAD_TOP - PAD_BOTTOM
    step = inner_w / (len(labels) - 1)

    def x(i):
        return round(PAD_LEFT + i * step, 1)

    def y(v):
        return round(PAD_TOP + inner_h - inner_h * v / top, 1)

    parts = [Markup('<svg class="chart trend" id="{}" role="img" aria-labelledby="{}-t" viewBox="0 0 {} {}" '
                    'width="{}" height="{}" xmlns="http://www.w3.org/2000/svg"><title id="{}-t">{}</title>')
             .format(chart_id, chart_id, LINE_WIDTH, LINE_HEIGHT, LINE_WIDTH, LINE_HEIGHT, chart_id, title)]
    base = PAD_TOP + inner_h
    parts.append(Markup('<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"></line>').format(
        PAD_LEFT, base, LINE_WIDTH - PAD_RIGHT, base))
    for tick in sorted({0, top // 2, top}):
        parts.append(Markup('<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>').format(
            PAD_LEFT - 6, y(tick) + 4, f"{tick:,}"))
    every = max(1, -(-len(labels) // MAX_X_LABELS))
    ticks = list(range(0, len(labels), every))
    if ticks[-1] != len(labels) - 1:   # the current run is always labelled; a too-close neighbour gives way
        ticks[-1 if len(labels) - 1 - ticks[-1] < every else len(ticks):] = [len(labels) - 1]
    for i in ticks:
        label = labels[i]
        shown = label if len(label) <= 12 else label[:11] + "\u2026"
        parts.append(Markup('<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>').format(
            x(i), base + 16, shown))
    for n, (name, line) in enumerate(series.items()):
        cls = css_class(name)
        segments, current = [], []
        for i, v in enumerate(line):
            if isinstance(v, int):
                current.append(f"{x(i)},{y(v)}")
            elif current:
                segments.append(current)
                current = []
        if current:
            segments.append(current)
        parts.append(Markup('<g class="line line-{}">').format(cls))
        for segment in segments:
            if len(segment) > 1:
                parts.append(Markup('<polyline points="{}"></polyline>').format(" ".join(segment)))
        for i, v in enumerate(line):
            if isinstance(v, int):
                parts.append(Markup('<circle cx="{}" cy="{}" r="3"><title>{}: {} {}</title></circle>').format(
                    x(i), y(v), labels[i], f"{v:,}", name))
        legend_x = PAD_LEFT + n * 110
        parts.append(Markup('<rect class="key" x="{}" y="{}" width="12" height="4"></rect>'
                            '<text class="label" x="{}" y="{}">{}</text></g>').format(
            legend_x, LINE_HEIGHT - 12, legend_x + 16, LINE_HEIGHT - 7, name))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def css_class(text: str) -> str:
    """A safe class-name fragment (letters, digits, hyphens) for a severity, state or readiness."""
    return "".join(c if c.isalnum() or c == "-" else "-" for c in str(text).lower())[:40] or "none"


__all__ = ["bar_chart", "css_class", "escape", "line_chart"]
