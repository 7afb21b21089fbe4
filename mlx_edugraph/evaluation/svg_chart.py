"""Horizontal grouped bar charts as standalone SVG text, for reports (no plotting library).

Values are ratios in [0, 1]; an undefined value (None) is drawn as no bar with a dash.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

COLOURS = ("#2563eb", "#ea7808", "#16a34a", "#9333ea")
_ROW = 16
_BAR = 12
_LABEL_WIDTH = 220
_PLOT_WIDTH = 360
_VALUE_WIDTH = 50


def bar_chart(
    title: str,
    rows: Sequence[tuple[str, Sequence[float | None]]],
    series: Sequence[str],
) -> str:
    """One group of bars per row (a term), one bar per series (e.g. precision, recall)."""
    group = _ROW * len(series) + 8
    top = 46
    height = top + group * max(len(rows), 1) + 24
    width = _LABEL_WIDTH + _PLOT_WIDTH + _VALUE_WIDTH
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<text x="4" y="16" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for i, name in enumerate(series):
        x = _LABEL_WIDTH + i * 110
        parts.append(f'<rect x="{x}" y="26" width="10" height="10" fill="{_colour(i)}"/>')
        parts.append(f'<text x="{x + 14}" y="35">{escape(name)}</text>')
    for r, (label, values) in enumerate(rows):
        y0 = top + r * group
        middle = y0 + group / 2 + 4
        parts.append(
            f'<text x="{_LABEL_WIDTH - 6}" y="{middle:.0f}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        for i, value in enumerate(values):
            y = y0 + 4 + i * _ROW
            text = "–" if value is None else f"{value:.2f}"
            if value is not None:
                length = max(0.0, min(1.0, value)) * _PLOT_WIDTH
                parts.append(
                    f'<rect x="{_LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{_BAR}" '
                    f'fill="{_colour(i)}"><title>{escape(label)}: {text}</title></rect>'
                )
            parts.append(
                f'<text x="{_LABEL_WIDTH + _PLOT_WIDTH + 6}" y="{y + _BAR - 2}">{text}</text>'
            )
    axis = top + group * max(len(rows), 1)
    parts.append(
        f'<line x1="{_LABEL_WIDTH}" y1="{top}" x2="{_LABEL_WIDTH}" y2="{axis}" stroke="#999"/>'
    )
    for tick in (0.0, 0.5, 1.0):
        x = _LABEL_WIDTH + tick * _PLOT_WIDTH
        parts.append(f'<text x="{x:.0f}" y="{axis + 16}" text-anchor="middle">{tick:g}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]
