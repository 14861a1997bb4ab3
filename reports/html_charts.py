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


def css_class(text: str) -> str:
    """A safe class-name fragment (letters, digits, hyphens) for a severity, state or readiness."""
    return "".join(c if c.isalnum() or c == "-" else "-" for c in str(text).lower())[:40] or "none"


__all__ = ["bar_chart", "css_class", "escape"]
