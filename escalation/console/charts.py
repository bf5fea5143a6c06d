"""Server-rendered SVG charts for the dashboard: calls per day (stacked) and horizontal bars.

Built here in Python, not by a chart library in the browser: the console's CSP allows no inline
script and a closed city network reaches no CDN, and an SVG written into the page is readable with
scripts off, prints, and can be checked by a test. The functions take plain values (dates, labels,
counts), not the analytics dataclasses, so the drawing does not depend on how figures are computed.

Accessibility: every chart is ``role="img"`` with a ``<title>`` and a ``<desc>`` that says the
figures in words, every bar carries its own ``<title>`` (a tooltip on hover, read by screen
readers), and every count is also drawn as text; colours come from classes in console.css
(``c-contained`` …), which pairs them with the legend, so nothing is told by colour alone.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

WEEKDAYS = "月火水木金土日"
_ids = itertools.count(1)  # unique ids for aria-labelledby when a page holds several charts

# The stacked chart's geometry, in viewBox units (the SVG scales to the card's width).
WIDTH = 1000
HEIGHT = 280
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 46, 44  # TOP: the legend row, then room for a full bar's total
MAX_BAR = 56  # a week's 7 bars (or one day's single bar) stay bars, not blocks
BAR_ROW = 30  # one row of a horizontal bar chart
LABEL_W = 210  # room for 大型ごみ受付 / 収集・収集漏れ at the chart's font size


@dataclass(frozen=True)
class Series:
    """One layer of the stacked chart: ``key`` names its colour class, ``label`` is what staff read."""

    key: str
    label: str
    values: Sequence[int]


def _chart_id() -> str:
    return f"chart{next(_ids)}"


def _nice_max(value: int) -> tuple[int, int]:
    """An axis top at or above ``value`` and its step: 1, 2 or 5 × 10ⁿ, at most about five gridlines."""
    if value <= 0:
        return 4, 1
    step = 1
    for power in itertools.count():
        for base in (1, 2, 5):
            step = base * 10**power
            if value / step <= 5:
                return step * math.ceil(value / step), step
    raise AssertionError("unreachable")  # pragma: no cover


def _day_label(day: date, many: bool) -> tuple[str, str]:
    """Two lines under a bar: the date (``12/3``, or just ``3`` when a month's bars are narrow) and
    the weekday, which staff use to tell Mondays (busy after the weekend) from the rest."""
    return (str(day.day) if many else f"{day.month}/{day.day}"), WEEKDAYS[day.weekday()]


def _long_date(day: date) -> str:
    return f"{day.month}月{day.day}日({WEEKDAYS[day.weekday()]})"


def stacked_days(days: Sequence[date], series: Sequence[Series], *, title: str,
                 highlight: date | None = None) -> Markup:
    """Calls per day as stacked bars (the first series at the bottom), the total above each bar.
    ``highlight``: a day drawn on a shaded band with a bold date (the day chosen, in its week)."""
    if any(len(s.values) != len(days) for s in series):
        raise ValueError("every series needs one value per day")
    cid = _chart_id()
    totals = [sum(s.values[i] for s in series) for i in range(len(days))]
    top, step = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar = min(slot * 0.7, MAX_BAR)
    many = len(days) > 14

    def y(v: float) -> float:
        return TOP + plot_h - v / top * plot_h

    desc = "、".join(f"{_long_date(d)} {t}件" for d, t in zip(days, totals, strict=True)) or "データなし"
    out = [f'<svg class="chart chart-days" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-labelledby="{cid}-t {cid}-d" xmlns="http://www.w3.org/2000/svg">',
           f'<title id="{cid}-t">{escape(title)}</title><desc id="{cid}-d">{escape(desc)}</desc>']
    for tick in range(0, top + 1, step):  # gridlines and the count axis
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
                   f'<text class="axis" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick}</text>')
    out.append(f'<text class="axis" x="{LEFT - 6}" y="{TOP - 14}" text-anchor="end">件</text>')
    legend_x = WIDTH - RIGHT
    for s in reversed(series):  # right-aligned legend, read left to right in stacking order
        text_w = 14 * len(s.label) + 8
        legend_x -= text_w + 16
        out.append(f'<rect class="c-{s.key} swatch" x="{legend_x}" y="6" width="12" height="12" rx="2"/>'
                   f'<text class="legend" x="{legend_x + 16}" y="17">{escape(s.label)}</text>')
    for i, day in enumerate(days):
        x = LEFT + slot * i + (slot - bar) / 2
        chosen = " chosen" if day == highlight else ""
        if chosen:
            out.append(f'<rect class="band" x="{LEFT + slot * i:.1f}" y="{TOP}" width="{slot:.1f}" height="{plot_h}"/>')
        base = 0
        for s in series:
            v = s.values[i]
            if v:
                out.append(f'<rect class="c-{s.key}" x="{x:.1f}" y="{y(base + v):.1f}" width="{bar:.1f}" '
                           f'height="{y(base) - y(base + v):.1f}"><title>{escape(_long_date(day))} '
                           f'{escape(s.label)} {v}件</title></rect>')
            base += v
        cx = x + bar / 2
        if totals[i]:
            out.append(f'<text class="total" x="{cx:.1f}" y="{y(totals[i]) - 5:.1f}" '
                       f'text-anchor="middle">{totals[i]}</text>')
        first, weekday = _day_label(day, many)
        weekend = " weekend" if day.weekday() >= 5 else ""
        out.append(f'<text class="axis{weekend}{chosen}" x="{cx:.1f}" y="{HEIGHT - BOTTOM + 17}" '
                   f'text-anchor="middle">{first}</text><text class="axis{weekend}{chosen}" x="{cx:.1f}" '
                   f'y="{HEIGHT - BOTTOM + 33}" text-anchor="middle">{weekday}</text>')
    out.append(f'<line class="baseline" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}"/></svg>')
    return Markup("".join(out))


def hbars(rows: Sequence[tuple[str, int]], *, title: str, key: str, unit: str = "件",
          width: int = 560) -> Markup:
    """Labelled horizontal bars, longest first as given, the count written after each bar.

    ``key`` is the colour class (``c-transferred``); the caller says what an empty list means, so
    an empty list still draws a titled, empty chart rather than failing.
    """
    cid = _chart_id()
    height = max(len(rows), 1) * BAR_ROW + 8
    most = max((v for _, v in rows), default=0) or 1
    room = width - LABEL_W - 56  # leave space for the count after the longest bar
    desc = "、".join(f"{label} {v}{unit}" for label, v in rows) or "データなし"
    out = [f'<svg class="chart chart-bars" viewBox="0 0 {width} {height}" role="img" '
           f'aria-labelledby="{cid}-t {cid}-d" xmlns="http://www.w3.org/2000/svg">',
           f'<title id="{cid}-t">{escape(title)}</title><desc id="{cid}-d">{escape(desc)}</desc>']
    for i, (label, value) in enumerate(rows):
        top = 4 + i * BAR_ROW
        w = max(value / most * room, 2 if value else 0)
        out.append(f'<text class="label" x="{LABEL_W - 10}" y="{top + 19}" text-anchor="end">{escape(label)}</text>'
                   f'<rect class="c-{escape(key)}" x="{LABEL_W}" y="{top + 5}" width="{w:.1f}" height="{BAR_ROW - 10}" '
                   f'rx="2"><title>{escape(label)} {value}{escape(unit)}</title></rect>'
                   f'<text class="value" x="{LABEL_W + w + 8:.1f}" y="{top + 19}">{value}{escape(unit)}</text>')
    out.append(f'<line class="baseline" x1="{LABEL_W}" x2="{LABEL_W}" y1="2" y2="{height - 2}"/></svg>')
    return Markup("".join(out))
