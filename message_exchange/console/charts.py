"""Bar charts drawn on the server as inline SVG (no script, no library): readable without JavaScript."""

from __future__ import annotations

from datetime import date
from html import escape

from markupsafe import Markup

WIDTH = 720
HEIGHT = 220
LEFT = 44
BOTTOM = 28
TOP = 12


def _nice_max(value: int) -> int:
    if value <= 4:
        return 4
    for step in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000):
        if value <= step * 4:
            return step * 4
    magnitude = 10 ** (len(str(value)) - 1)
    return int(-(-value // magnitude) * magnitude)


def bar_chart(title: str, points: list[tuple[date, int]], *, monthly: bool, chart_id: str) -> Markup:
    """An accessible SVG bar chart (``role="img"`` with a title and a description listing the totals)."""
    top = _nice_max(max((count for _day, count in points), default=0))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(points), 1)
    bar_w = max(slot * 0.7, 1.0)
    label = "%Y-%m" if monthly else "%m-%d"
    every = 1 if len(points) <= 12 else max(len(points) // 6, 1)
    summary = ", ".join(f"{d.strftime(label)}: {c}" for d, c in points if c) or "No usage in this period."
    parts = [
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(summary)}</desc>',
    ]
    for tick in range(5):
        value = top * tick // 4
        y = TOP + plot_h - plot_h * tick / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value}</text>')
    for index, (day, count) in enumerate(points):
        height = plot_h * count / top if top else 0
        x = LEFT + index * slot + (slot - bar_w) / 2
        y = TOP + plot_h - height
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{height:.1f}">'
            f"<title>{day.strftime(label)}: {count}</title></rect>"
        )
        if index % every == 0:
            middle = x + bar_w / 2
            parts.append(
                f'<text class="axis" x="{middle:.1f}" y="{HEIGHT - 10}" text-anchor="middle">'
                f"{day.strftime(label)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
