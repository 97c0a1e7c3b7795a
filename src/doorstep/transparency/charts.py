"""Bar charts drawn on the server as inline SVG: no script, no chart library, readable
without JavaScript (each bar carries its value as a tooltip; pages also give a table)."""

from __future__ import annotations

from markupsafe import Markup, escape

from doorstep.transparency.schemas import MonthCount

_WIDTH, _HEIGHT = 720, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 36, 8, 12, 36


def bar_chart(bars: list[MonthCount], *, label: str, max_bars: int = 60) -> Markup:
    """An accessible SVG bar chart of monthly counts (the last ``max_bars`` months)."""
    bars = bars[-max_bars:]
    if not bars:
        return Markup('<p class="empty">Nothing to chart yet.</p>')
    top = max(max(b.count for b in bars), 1)
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM
    step = plot_w / len(bars)
    bar_w = min(max(step * 0.75, 1.0), 48.0)
    label_every = max(1, len(bars) // 12)
    parts = [
        f'<svg class="bar-chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_WIDTH - _RIGHT}" '
        f'y2="{_TOP + plot_h}"/>',
        f'<text class="tick" x="{_LEFT - 6}" y="{_TOP + 4}" text-anchor="end">{top}</text>',
        f'<text class="tick" x="{_LEFT - 6}" y="{_TOP + plot_h}" text-anchor="end">0</text>',
    ]
    for i, bar in enumerate(bars):
        height = plot_h * bar.count / top
        x = _LEFT + i * step + (step - bar_w) / 2
        y = _TOP + plot_h - height
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
            f'height="{height:.1f}" data-month="{escape(bar.month)}" data-count="{bar.count}">'
            f"<title>{escape(bar.month)}: {bar.count}</title></rect>"
        )
        if i % label_every == 0:
            parts.append(
                f'<text class="tick" x="{x + bar_w / 2:.1f}" y="{_HEIGHT - _BOTTOM + 16}" '
                f'text-anchor="middle">{escape(bar.month)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped
