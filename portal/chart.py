"""A resident's last days as an inline SVG: consumption bars and the end-of-day balance line.

Pure: data in, markup out. Drawn on the server so the page needs no JavaScript and no CDN.
Presentation attributes only (fill, stroke, font-size…): the Content-Security-Policy forbids
inline styles. Built with ElementTree, which escapes every text and attribute.
"""

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from ledger.cpas import Day
from ledger.rules import EXHAUSTED_AT_CENTS

SVG_NS = "http://www.w3.org/2000/svg"
WIDTH, HEIGHT = 720, 320
LEFT, RIGHT = 84, 76  # room for the balance amounts (left) and the consumption ones (right)
LEGEND_Y = 18
# Two panels sharing the days: the balance on top, the consumption below on its own scale,
# read on the right-hand axis. No bar hides the line, and no one reads a bar against the €
# of the balance axis.
BALANCE_TOP, BALANCE_BOTTOM = 36, 184
BARS_TOP, BARS_BOTTOM = 224, 282
DATES_Y = 302
DATE_EVERY_DAYS = 7  # counted back from the last day, so the latest day is always labelled

# Contrast on white: text 18.9:1, line 11.2:1, danger 10:1, bars 3.9:1 (non-text, ≥ 3:1).
INK, BALANCE_INK, DANGER_INK, BAR_FILL, GRID = "#111111", "#123c69", "#8b0000", "#3f8f7f", "#d9d9d9"


@dataclass(frozen=True)
class ChartLabels:
    """Every word of the chart, from the caller's locale."""

    title: str
    description: str  # for screen readers
    consumption: str  # legend of the bars
    balance: str  # legend of the line
    no_data: str
    disconnection: str = ""  # beside the −15 € line, e.g. "Coupure"; the amount is always shown


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes) -> ET.Element:
    """A child element; `class_` → class, `font_size` → font-size; numbers rounded to 0.1."""
    element = ET.SubElement(parent, tag, {
        name.rstrip("_").replace("_", "-"): f"{round(value, 1):g}" if isinstance(value, float)
        else str(value) for name, value in attributes.items()})
    element.text = text
    return element


def _ticks(low: int, high: int, most: int) -> list[int]:
    """Round amounts (1, 2 or 5 × 10ⁿ cents, from 10 cents) covering low..high: 3 to `most`."""
    step = 10
    while True:
        for mantissa in (1, 2, 5):
            size = mantissa * step
            first, last = low // size * size, -(-high // size) * size
            if (last - first) // size + 1 <= most:
                last = max(last, first + 2 * size)  # a flat range still gets an axis
                return list(range(first, last + 1, size))
        step *= 10


def _scale(ticks: list[int], top: float, bottom: float) -> Callable[[int], float]:
    low, high = ticks[0], ticks[-1]
    return lambda cents: bottom - (cents - low) * (bottom - top) / (high - low)


def _axis(svg: ET.Element, ticks: list[int], y_of: Callable[[int], float],
          money: Callable[[int], str], kind: str, right: bool = False) -> None:
    for cents in ticks:
        y = y_of(cents)
        _add(svg, "line", x1=LEFT, x2=WIDTH - RIGHT, y1=y, y2=y, stroke=GRID, stroke_width=1)
        _add(svg, "text", money(cents), class_=f"{kind}-tick", y=y + 4, font_size=12, fill=INK,
             x=WIDTH - RIGHT + 8 if right else LEFT - 8, text_anchor="start" if right else "end")


def _svg(id_prefix: str, labels: ChartLabels, height: int, description: str) -> ET.Element:
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    svg = ET.Element("svg", {
        "xmlns": SVG_NS, "viewBox": f"0 0 {WIDTH} {height}", "width": "100%",
        "role": "img", "aria-labelledby": f"{title_id} {desc_id}",
        "font-family": "system-ui, sans-serif", "class": "balance-chart"})
    _add(svg, "title", labels.title, id=title_id)
    _add(svg, "desc", description, id=desc_id)
    return svg


def balance_chart(days: Sequence[Day], *, labels: ChartLabels, money: Callable[[int], str],
                  short_date: Callable[[date], str], id_prefix: str = "chart") -> str:
    """The SVG element (no XML declaration) to inline in the page; `days` oldest first."""
    if not days:
        svg = _svg(id_prefix, labels, 60, labels.no_data)
        _add(svg, "text", labels.no_data, class_="no-data", x=WIDTH / 2, y=35,
             text_anchor="middle", font_size=14, fill=INK)
        return ET.tostring(svg, encoding="unicode")
    svg = _svg(id_prefix, labels, HEIGHT, labels.description)

    # Legend: different shapes (a line, a block), not only different colours.
    _add(svg, "line", x1=LEFT, x2=LEFT + 24, y1=LEGEND_Y - 4, y2=LEGEND_Y - 4,
         stroke=BALANCE_INK, stroke_width=3)
    _add(svg, "text", labels.balance, x=LEFT + 30, y=LEGEND_Y, font_size=13, fill=INK)
    _add(svg, "rect", x=WIDTH / 2, y=LEGEND_Y - 11, width=12, height=12, fill=BAR_FILL)
    _add(svg, "text", labels.consumption, x=WIDTH / 2 + 18, y=LEGEND_Y, font_size=13, fill=INK)

    slot = (WIDTH - LEFT - RIGHT) / len(days)
    x_of = [LEFT + slot * (index + 0.5) for index in range(len(days))]

    # The balance, with zero always on the axis: below it is the emergency credit. Once that
    # is being used, the cut-off is what matters, so the −15 € line comes into view.
    balances = [d.balance_cents for d in days]
    cut_off_shown = min(balances) < 0
    low = min(balances + [0] + ([EXHAUSTED_AT_CENTS] if cut_off_shown else []))
    balance_ticks = _ticks(low, max(balances + [0]), most=6)
    balance_y = _scale(balance_ticks, BALANCE_TOP, BALANCE_BOTTOM)
    _axis(svg, balance_ticks, balance_y, money, "balance")
    zero_y = balance_y(0)
    _add(svg, "line", class_="zero", x1=LEFT, x2=WIDTH - RIGHT, y1=zero_y, y2=zero_y,
         stroke=INK, stroke_width=1.5)
    if cut_off_shown:
        cut_y = balance_y(EXHAUSTED_AT_CENTS)
        _add(svg, "line", class_="disconnection", x1=LEFT, x2=WIDTH - RIGHT, y1=cut_y, y2=cut_y,
             stroke=DANGER_INK, stroke_width=1.5, stroke_dasharray="6 4")
        words = " ".join(filter(None, (labels.disconnection, money(EXHAUSTED_AT_CENTS))))
        # Below the line, away from the zero line, on the left so the latest balance stays
        # clear; a white halo where the line crosses the words.
        _add(svg, "text", words, class_="disconnection-label", x=LEFT + 4, y=cut_y + 14,
             font_size=12, fill=DANGER_INK, stroke="#ffffff",
             stroke_width=3, paint_order="stroke")
    points = [(x, balance_y(cents)) for x, cents in zip(x_of, balances)]
    _add(svg, "polyline", class_="balance", fill="none", stroke=BALANCE_INK, stroke_width=2.5,
         stroke_linejoin="round", points=" ".join(f"{x:.1f},{y:.1f}" for x, y in points))
    # The latest balance marked: it is the one that matters, and a lone day is still seen.
    _add(svg, "circle", class_="balance-last", cx=points[-1][0], cy=points[-1][1], r=4,
         fill=BALANCE_INK)

    # The consumption, on its own small scale; a day not posted gets no bar (not a zero one).
    posted = [d.consumption_cents for d in days if d.consumption_cents is not None]
    bar_ticks = _ticks(min(posted + [0]), max(posted + [0]), most=3)
    bar_y = _scale(bar_ticks, BARS_TOP, BARS_BOTTOM)
    _axis(svg, bar_ticks, bar_y, money, "consumption", right=True)
    bar_width = min(slot * 0.7, 24)
    for x, day in zip(x_of, days):
        if day.consumption_cents is not None:
            top, bottom = sorted((bar_y(day.consumption_cents), bar_y(0)))
            _add(svg, "rect", class_="consumption", x=x - bar_width / 2, y=top,
                 width=bar_width, height=bottom - top, fill=BAR_FILL)
    _add(svg, "line", x1=LEFT, x2=WIDTH - RIGHT, y1=bar_y(0), y2=bar_y(0), stroke=INK,
         stroke_width=1)

    for index in range(len(days) - 1, -1, -DATE_EVERY_DAYS):
        _add(svg, "line", x1=x_of[index], x2=x_of[index], y1=BARS_BOTTOM, y2=BARS_BOTTOM + 5,
             stroke=INK, stroke_width=1)
        _add(svg, "text", short_date(days[index].day), class_="date", x=x_of[index], y=DATES_Y,
             text_anchor="middle", font_size=12, fill=INK)
    return ET.tostring(svg, encoding="unicode")
