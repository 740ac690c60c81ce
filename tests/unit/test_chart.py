import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ledger.cpas import Day
from portal.chart import (
    BALANCE_BOTTOM,
    BALANCE_TOP,
    LEFT,
    RIGHT,
    WIDTH,
    ChartLabels,
    balance_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
LABELS = ChartLabels(title="Les 60 derniers jours", description="Consommation par jour (barres) "
                     "et solde en fin de journée (ligne).",
                     consumption="Consommation du jour", balance="Solde en fin de journée",
                     no_data="Pas encore de données.", disconnection="Coupure")
FIRST = date(2026, 9, 26)


def history(balances, consumptions=None) -> list[Day]:
    consumptions = consumptions or [300] * len(balances)
    return [Day(FIRST + timedelta(days=i), c, b)
            for i, (b, c) in enumerate(zip(balances, consumptions, strict=True))]


def draw(days, labels=LABELS, **options) -> str:
    return balance_chart(days, labels=labels, money=lambda cents: f"M[{cents}]",
                         short_date=lambda d: f"D[{d:%d/%m}]", **options)


def parsed(days, **options) -> ET.Element:
    return ET.fromstring(draw(days, **options))


def with_class(root: ET.Element, tag: str, name: str) -> list[ET.Element]:
    return [e for e in root.iter(SVG + tag) if e.get("class") == name]


def points(root: ET.Element) -> list[tuple[float, float]]:
    (line,) = with_class(root, "polyline", "balance")
    return [tuple(map(float, p.split(","))) for p in line.get("points").split()]


def tick_cents(root: ET.Element, kind: str) -> list[int]:
    return [int(re.fullmatch(r"M\[(-?\d+)\]", t.text)[1]) for t in with_class(root, "text", kind)]


def test_an_svg_image_named_by_its_title_and_description():
    root = parsed(history([1000] * 60), id_prefix="resident-7")
    assert root.tag == SVG + "svg"
    assert root.get("role") == "img"
    assert root.get("viewBox") and root.get("width") == "100%"
    title_id, desc_id = root.get("aria-labelledby").split()
    assert root.find(f"{SVG}title[@id='{title_id}']").text == LABELS.title
    assert root.find(f"{SVG}desc[@id='{desc_id}']").text == LABELS.description
    assert title_id.startswith("resident-7") and desc_id.startswith("resident-7")
    assert title_id != desc_id


def test_words_with_markup_are_escaped():
    nasty = 'Zoé <b>"&" \'x\'</b>'
    labels = ChartLabels(title=nasty, description=nasty, consumption=nasty, balance=nasty,
                         no_data=nasty, disconnection=nasty)
    for days in (history([-1800, 500]), []):
        text = draw(days, labels=labels)
        assert "<b>" not in text
        root = ET.fromstring(text)
        assert root.find(SVG + "title").text == nasty
    root = ET.fromstring(draw(history([-1800, 500]), labels=labels, id_prefix='a"<b>'))
    assert root.find(SVG + "title").get("id").startswith('a"<b>')


def test_one_bar_per_posted_day_and_none_for_a_day_not_posted():
    assert len(with_class(parsed(history([1000] * 60)), "rect", "consumption")) == 60
    consumptions = [300] * 60
    consumptions[10] = consumptions[11] = consumptions[59] = None
    consumptions[20] = 0  # posted, nothing used: still a day with a (flat) bar
    root = parsed(history([1000] * 60, consumptions))
    assert len(with_class(root, "rect", "consumption")) == 57


def test_a_bigger_consumption_is_a_taller_bar():
    root = parsed(history([1000] * 3, [100, 900, 400]))
    heights = [float(r.get("height")) for r in with_class(root, "rect", "consumption")]
    assert heights[1] > heights[2] > heights[0] > 0


def test_the_balance_line_has_a_point_per_day_and_lower_is_lower():
    balances = [25000 - 500 * i for i in range(50)] + [-1200] * 10
    root = parsed(history(balances))
    line = points(root)
    assert len(line) == 60
    assert all(a[0] < b[0] for a, b in zip(line, line[1:]))  # oldest on the left
    assert line[0][1] < line[30][1] < line[59][1]  # SVG y grows downwards


def test_zero_is_drawn_between_positive_and_negative_balances():
    root = parsed(history([800, -600]))
    (zero,) = with_class(root, "line", "zero")
    high, low = points(root)
    assert high[1] < float(zero.get("y1")) < low[1]


def test_the_cut_off_line_appears_when_the_balance_nears_it():
    root = parsed(history([500, -1100, -1900]))
    (cut,) = with_class(root, "line", "disconnection")
    assert cut.get("stroke-dasharray")
    (words,) = with_class(root, "text", "disconnection-label")
    assert words.text == "Coupure M[-1500]"
    assert float(cut.get("y1")) < points(root)[2][1]  # −19 € is drawn below the −15 € line
    far = parsed(history([1100, 5000, 25000]))
    assert not with_class(far, "line", "disconnection")
    assert with_class(far, "line", "zero")


def test_between_three_and_six_round_amounts_including_zero():
    for balances in ([25000, 24000], [100, 300], [-2000, 25000], [0, 0], [-1600, -1500]):
        ticks = tick_cents(parsed(history(balances)), "balance-tick")
        assert 3 <= len(ticks) <= 6 and 0 in ticks
        step = ticks[1] - ticks[0]
        assert all(b - a == step for a, b in zip(ticks, ticks[1:]))
        assert ticks[0] <= min(balances) and ticks[-1] >= max(balances)


def test_amounts_and_dates_come_from_the_callers_formatters():
    root = parsed(history([1000] * 60))
    dates = [t.text for t in with_class(root, "text", "date")]
    assert len(dates) == 9  # every 7 days
    assert dates[0] == f"D[{FIRST + timedelta(days=59):%d/%m}]"  # the latest day is labelled
    assert tick_cents(root, "balance-tick") and tick_cents(root, "consumption-tick")


def test_no_data_yet():
    root = parsed([])
    assert root.tag == SVG + "svg" and root.get("role") == "img"
    assert LABELS.no_data in [t.text for t in root.iter(SVG + "text")]
    assert not list(root.iter(SVG + "polyline")) and not list(root.iter(SVG + "rect"))


def test_a_single_day_is_still_shown():
    root = parsed(history([-300], [None]))
    assert len(points(root)) == 1
    assert with_class(root, "circle", "balance-last")
    assert not with_class(root, "rect", "consumption")


def test_nothing_the_content_security_policy_would_refuse():
    text = draw(history([-2000 + 500 * i for i in range(60)])) + draw([])
    assert "style=" not in text
    assert "<script" not in text.lower()
    assert not re.search(r"href\s*=\s*[\"']?https?:", text)
    assert not re.search(r"\son[a-z]+\s*=", text)  # no event handlers
    assert not text.startswith("<?xml")


@given(st.lists(st.tuples(st.integers(-2500, 30000), st.none() | st.integers(0, 5000)),
                max_size=60))
def test_any_history_draws(rows):
    days = [Day(FIRST + timedelta(days=i), c, b) for i, (b, c) in enumerate(rows)]
    root = parsed(days)
    if not days:
        return
    assert len(points(root)) == len(days)
    assert len(with_class(root, "rect", "consumption")) == sum(c is not None for _, c in rows)
    ticks = tick_cents(root, "balance-tick")
    assert 3 <= len(ticks) <= 6
    assert all(BALANCE_TOP - 0.1 <= y <= BALANCE_BOTTOM + 0.1 for _, y in points(root))


def test_eleven_days_since_the_activation_fill_the_width_with_the_activation_day_first():
    """A resident activated 10 days ago: 11 days, spread over the whole plot (not squeezed
    to its right end as the last 11 of 60), the first one the activation day."""
    root = parsed(history([2000 - 150 * i for i in range(11)]))
    line = points(root)
    assert len(line) == 11
    assert line[0][0] < LEFT + (WIDTH - LEFT - RIGHT) / 10  # the first day on the left edge
    assert line[-1][0] > WIDTH - RIGHT - (WIDTH - LEFT - RIGHT) / 10
    bars = with_class(root, "rect", "consumption")
    assert len(bars) == 11 and all(float(bar.get("width")) <= 24 for bar in bars)
    dates = [t.text for t in with_class(root, "text", "date")]
    assert dates == [f"D[{FIRST + timedelta(days=days):%d/%m}]" for days in (10, 3)]
