"""Bar charts as inline SVG, drawn on the server: no chart library, no script, nothing loaded.

Labels are escaped here (they are the OR's and employees' text); colours come from the
stylesheet through classes, with fill attributes as a fallback for printing and old viewers.
The chart is an image for screen readers (role="img" with a title and a description that
reads out every number), and the page shows the same numbers in a table too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH = 420
ROW = 50
TOP = 8
LABEL_CHARS = 46
BAR_MAX = 290


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    count: int


def percent(count: int, total: int) -> int:
    return round(100 * count / total) if total else 0


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    description: str,
    chart_id: str,
    total: int | None = None,
) -> Markup:
    """A horizontal bar per option, longest bar = most votes, with count and percentage.
    `total`: what the percentages are of when it is not the sum of the bars (a
    multiple-choice question: of those who answered it)."""
    total = sum(b.count for b in bars) if total is None else total
    top = max((b.count for b in bars), default=0)
    height = TOP * 2 + ROW * max(len(bars), 1)
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" id="{chart_id}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    for i, bar in enumerate(bars):
        y = TOP + i * ROW
        width = round(BAR_MAX * bar.count / top) if top else 0
        pct = percent(bar.count, total)
        parts += [
            f'<text class="chart-label" x="0" y="{y + 16}" fill="#1d2733">'
            f"{escape(_short(bar.label))}</text>",
            f'<rect class="chart-track" x="0" y="{y + 23}" width="{BAR_MAX}" height="18" '
            f'rx="3" fill="#e8edf2"/>',
            f'<rect class="chart-bar" x="0" y="{y + 23}" width="{width}" height="18" '
            f'rx="3" fill="#1f5fa8"/>',
            f'<text class="chart-value" x="{BAR_MAX + 10}" y="{y + 37}" fill="#1d2733">'
            f"{bar.count} ({pct}%)</text>",
        ]
    parts.append("</svg>")
    # Everything interpolated above is escaped or a number we computed.
    return Markup("".join(parts))


def _open_svg(chart_id: str, width: int, height: int, title: str, description: str) -> list[str]:
    return [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" id="{chart_id}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]


COLUMN_AREA = 150


def column_chart(bars: Sequence[Bar], *, title: str, description: str, chart_id: str) -> Markup:
    """A column per scale value (1..5, 0..10), left to right, with its count on top: the
    shape of a distribution reads at a glance. Labels are the values (short numbers)."""
    top = max((b.count for b in bars), default=0)
    slot = WIDTH // max(len(bars), 1)
    height = TOP + 22 + COLUMN_AREA + 26
    parts = _open_svg(chart_id, WIDTH, height, title, description)
    for i, bar in enumerate(bars):
        x = i * slot + 4
        size = round(COLUMN_AREA * bar.count / top) if top else 0
        base = TOP + 22 + COLUMN_AREA
        parts += [
            f'<rect class="chart-track" x="{x}" y="{TOP + 22}" width="{slot - 8}" '
            f'height="{COLUMN_AREA}" rx="3" fill="#e8edf2"/>',
            f'<rect class="chart-bar" x="{x}" y="{base - size}" width="{slot - 8}" '
            f'height="{size}" rx="3" fill="#1f5fa8"/>',
            f'<text class="chart-value" x="{x + (slot - 8) // 2}" y="{base - size - 6}" '
            f'text-anchor="middle" fill="#1d2733">{bar.count}</text>',
            f'<text class="chart-label" x="{x + (slot - 8) // 2}" y="{base + 20}" '
            f'text-anchor="middle" fill="#1d2733">{escape(bar.label[:3])}</text>',
        ]
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True, slots=True)
class Share:
    """A part of a whole (the finished respondents of a department's audience)."""

    label: str
    part: int
    whole: int


def share_chart(shares: Sequence[Share], *, title: str, description: str, chart_id: str) -> Markup:
    """A horizontal bar per group, as long as its own percentage (a full bar is 100%)."""
    height = TOP * 2 + ROW * max(len(shares), 1)
    parts = _open_svg(chart_id, WIDTH, height, title, description)
    for i, share in enumerate(shares):
        y = TOP + i * ROW
        pct = percent(share.part, share.whole)
        width = round(BAR_MAX * min(pct, 100) / 100)
        parts += [
            f'<text class="chart-label" x="0" y="{y + 16}" fill="#1d2733">'
            f"{escape(_short(share.label))}</text>",
            f'<rect class="chart-track" x="0" y="{y + 23}" width="{BAR_MAX}" height="18" '
            f'rx="3" fill="#e8edf2"/>',
            f'<rect class="chart-bar" x="0" y="{y + 23}" width="{width}" '
            f'height="18" rx="3" fill="#1f5fa8"/>',
            f'<text class="chart-value" x="{BAR_MAX + 10}" y="{y + 37}" fill="#1d2733">'
            f"{pct}%</text>",
        ]
    parts.append("</svg>")
    return Markup("".join(parts))


# Distinct enough side by side, dark enough for white figures on them (contrast ≥ 4.5:1).
PALETTE = (
    "#1f5fa8", "#b3541e", "#2e7d32", "#7b3fa0", "#a0263c", "#00695c",
    "#5d4037", "#37474f", "#ad1457", "#4e5f14", "#283593",
)  # fmt: skip
LEGEND_ROW = 24


@dataclass(frozen=True, slots=True)
class Stack:
    """One group's answers: a count per value, in the order of the legend."""

    label: str
    counts: tuple[int, ...]


def stacked_chart(
    stacks: Sequence[Stack], legend: Sequence[str], *, title: str, description: str, chart_id: str
) -> Markup:
    """A bar per group, split into its answers' shares (each bar is 100%), with a legend
    below: how the groups of a cross-tab differ reads at a glance."""
    bars_height = TOP + ROW * max(len(stacks), 1)
    height = bars_height + LEGEND_ROW * len(legend) + TOP
    parts = _open_svg(chart_id, WIDTH, height, title, description)
    for i, stack in enumerate(stacks):
        y = TOP + i * ROW
        total = sum(stack.counts)
        parts.append(
            f'<text class="chart-label" x="0" y="{y + 16}" fill="#1d2733">'
            f"{escape(_short(stack.label))}</text>"
        )
        x = 0
        for j, count in enumerate(stack.counts):
            width = round(WIDTH * count / total) if total else 0
            if not width:
                continue
            colour = PALETTE[j % len(PALETTE)]
            parts.append(
                f'<rect x="{x}" y="{y + 23}" width="{width}" height="20" fill="{colour}"/>'
            )
            if width >= 44:
                parts.append(
                    # Not .chart-value: the stylesheet's ink colour would win over white.
                    f'<text class="chart-share" x="{x + width / 2:.0f}" y="{y + 38}" '
                    f'text-anchor="middle" fill="#ffffff" font-size="14" font-weight="600">'
                    f"{percent(count, total)}%</text>"
                )
            x += width
    for j, label in enumerate(legend):
        y = bars_height + j * LEGEND_ROW
        colour = PALETTE[j % len(PALETTE)]
        parts += [
            f'<rect x="0" y="{y + 4}" width="16" height="16" fill="{colour}"/>',
            f'<text class="chart-label" x="24" y="{y + 17}" fill="#1d2733">'
            f"{escape(_short(label))}</text>",
        ]
    parts.append("</svg>")
    return Markup("".join(parts))
