"""The dashboard's pure parts, without an app: filter rules, trend buckets, column layouts and painted rows."""

from __future__ import annotations

import random

import pytest
from dashboard_fakes import FLEET, canned, inventory_of
from rich.style import Style

from fleetdeck.core.nodeset import natural_key
from fleetdeck.ui.widgets.filter_bar import FilterError, parse_filter
from fleetdeck.ui.widgets.fleet_rows import cell_text, paint_header, paint_row
from fleetdeck.ui.widgets.host_cells import Column, Spec, fit_columns, header_labels, sort_hosts
from fleetdeck.ui.widgets.sparkline_text import PeakTrend, bucket_peaks, sparkline

NAMES = [h.name for h in FLEET]


@pytest.mark.parametrize(
    ("text", "kind", "kept"),
    [
        ("web", "text", ["web-1", "web-2"]),
        ("  DB ", "text", ["db-1", "db-2"]),
        ("~^(web|cache)-1$", "regex", ["web-1", "cache-1"]),
        ("!~-2$", "not regex", ["web-1", "db-1", "cache-1"]),
        ("@web", "selector", ["web-1", "web-2"]),
        ("tag:dc=ams1", "selector", ["db-1", "db-2"]),
        ("db-[1-2]", "selector", ["db-1", "db-2"]),
        ("@web,@cache", "selector", ["web-1", "web-2", "cache-1"]),
        ("!@db", "not selector", ["web-1", "web-2", "cache-1"]),
        ("!cache", "not text", ["web-1", "web-2", "db-1", "db-2"]),
    ],
)
def test_filter_text_is_read_by_one_rule(text: str, kind: str, kept: list[str]) -> None:
    parsed = parse_filter(text, inventory_of(FLEET))
    assert parsed is not None
    assert parsed.describe() == kind
    assert [name for name in NAMES if parsed.matches(name)] == kept


@pytest.mark.parametrize("text", ["", "   ", "!", " ! "])
def test_empty_filter_text_shows_everything(text: str) -> None:
    assert parse_filter(text, inventory_of(FLEET)) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("~(", "bad regex '(': missing ), unterminated subpattern at position 0"),
        ("@nosuch", 'unknown group "nosuch"'),
        ("web-[7-8]", "unknown hosts"),
        ("tag:=x", "empty tag key"),
    ],
)
def test_bad_filter_text_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(text, inventory_of(FLEET))
    assert message in str(caught.value)


def test_bucket_peaks_are_clock_aligned_and_end_at_the_newest_point() -> None:
    points = [(100.0, 5.0), (101.0, 9.0), (112.0, 1.0), (131.0, 7.0)]  # buckets of 12 s: 8, 8, 9, 10
    assert bucket_peaks(points, 12.0, 4) == [None, 9.0, 1.0, 7.0]
    assert bucket_peaks(points, 12.0, 2) == [1.0, 7.0]
    assert bucket_peaks([], 12.0, 3) == [None, None, None]


def test_peak_trend_matches_a_full_recount_after_every_update() -> None:
    rng = random.Random(7)
    points: list[tuple[float, float]] = []
    trend = PeakTrend(12.0, 10)
    when = 1_700_000_000.0
    for _ in range(400):
        for _ in range(rng.choice([0, 1, 1, 1, 2, 5])):  # drains see none, one or several new points
            when += rng.choice([1.0, 2.0, 2.0, 30.0, 200.0])
            points.append((when, rng.uniform(0, 100)))
        assert list(trend.update(points)) == bucket_peaks(points, 12.0, 10)


def test_peak_trend_returns_the_same_tuple_while_nothing_changed() -> None:
    trend = PeakTrend(12.0, 3)
    points = [(120.0, 5.0)]
    first = trend.update(points)
    assert trend.update(points) is first
    points.append((121.0, 2.0))  # same bucket, lower: the peaks stay
    assert trend.update(points) is first
    points.append((122.0, 8.0))
    assert trend.update(points) == (None, None, 8.0)


def test_sparkline_has_a_fixed_scale_and_shows_gaps() -> None:
    assert sparkline([0.0, 50.0, 100.0, 250.0, None, -3.0], 6) == "▁▅██ ▁"
    assert sparkline([10.0], 4) == "   ▁"
    assert sparkline([1.0, 2.0], 0) == ""


@pytest.mark.parametrize(
    ("width", "trend", "keys", "alert"),
    [
        (117, 10, ["mark", "status", "host", "cpu", "mem", "disk", "load", "rx", "tx", "uptime", "alert"], 39),
        (85, 5, ["mark", "status", "host", "cpu", "mem", "disk", "load", "rx", "tx", "uptime", "alert"], 12),
        (77, 5, ["mark", "status", "host", "cpu", "mem", "disk", "load", "rx", "tx", "alert"], 13),
        (40, 0, ["mark", "status", "host", "cpu", "mem", "disk", "load", "rx", "tx", "alert"], 8),
    ],
)
def test_columns_fit_the_width_shortening_the_trend_then_dropping_uptime(
    width: int, trend: int, keys: list[str], alert: int
) -> None:
    columns, chosen = fit_columns(width, host_width=7)
    assert chosen == trend
    assert [column.key for column in columns] == keys
    assert columns[-1].width == alert


ROW = Style(color="white", bgcolor="black")
STYLES = {"": ROW, "crit": ROW + Style(color="red", bold=True), "trend": ROW + Style(color="blue")}
COLUMNS = (Column("host", "host", 6, "left"), Column("cpu", "cpu", 9, "left"), Column("mem", "mem", 4))


def runs(strip: object) -> list[tuple[str, Style | None]]:
    return [(segment.text, segment.style) for segment in strip]  # type: ignore[attr-defined]


def test_a_row_pads_each_cell_aligns_numbers_and_fills_the_width_in_the_row_style() -> None:
    cells: dict[str, Spec] = {
        "host": (("web-1", ""),),
        "cpu": (("93%", "crit"), (" ", ""), ("▁▂", "trend")),
        "mem": (("7%", "crit"),),
    }
    strip = paint_row(COLUMNS, cells, 30, ROW, STYLES.__getitem__)
    assert strip.cell_length == 30
    assert strip.text == " web-1  " + " 93% ▁▂    " + "   7% " + " " * 5
    assert runs(strip) == [
        (" web-1   ", ROW),
        ("93%", STYLES["crit"]),
        (" ", ROW),
        ("▁▂", STYLES["trend"]),
        ("     ", ROW),
        ("  7%", STYLES["crit"]),  # a one-run cell's padding takes its style, as a Rich text cell did
        ("      ", ROW),
    ]


def test_a_row_crops_long_text_to_its_column_and_to_the_width() -> None:
    cells: dict[str, Spec] = {"host": (("a-very-long-name", ""),), "cpu": (("12%", ""), ("▁▂▃▄▅▆▇█", "trend"))}
    assert paint_row(COLUMNS, cells, 30, ROW, STYLES.__getitem__).text == " a-very " + " 12%▁▂▃▄▅▆ " + " " * 11
    assert paint_row(COLUMNS, cells, 12, ROW, STYLES.__getitem__).text == " a-very  12%"


def test_the_header_aligns_labels_like_their_cells_and_crops_them() -> None:
    labels = {"host": "host▲", "cpu": "cpu", "mem": "mem"}
    narrow = (Column("host", "host", 4, "left"), *COLUMNS[1:])
    assert paint_header(COLUMNS, labels, 28, ROW).text == " host▲   cpu         mem    "
    assert paint_header(narrow, labels, 26, ROW).text == " host  cpu         mem    "


def test_cell_text_keeps_each_runs_style() -> None:
    one = cell_text((("45%", "crit"),), "right", STYLES.__getitem__)
    assert one.plain == "45%" and one.style == STYLES["crit"] and one.justify == "right"
    two = cell_text((("9%", "crit"), (" ", ""), ("▁", "trend")), "left", STYLES.__getitem__)
    assert two.plain == "9% ▁" and [span.style for span in two.spans] == [STYLES["crit"], ROW, STYLES["trend"]]


def test_rows_sort_worst_first_with_missing_numbers_last_and_ties_by_name() -> None:
    samples = {"b-10": canned("b-10", cpu_pct=50.4), "b-9": canned("b-9", cpu_pct=49.6), "a": canned("a", cpu_pct=7.0)}
    hosts = ["a", "b-10", "b-9", "down-1"]
    order = sort_hosts(hosts, "cpu", False, samples.get, natural_key)
    assert order == ["b-9", "b-10", "a", "down-1"]  # 50% either way: by name, naturally
    assert sort_hosts(hosts, "cpu", True, samples.get, natural_key) == ["a", "b-9", "b-10", "down-1"]
    assert sort_hosts(hosts, "host", True, samples.get, natural_key) == ["down-1", "b-10", "b-9", "a"]


def test_the_sorted_header_gets_an_arrow_the_way_its_rows_go() -> None:
    columns = (Column("status", "", 1), *COLUMNS)
    assert header_labels(columns, "host", False) == {"status": "", "host": "host▲", "cpu": "cpu", "mem": "mem"}
    assert header_labels(columns, "cpu", False)["cpu"] == "cpu▼"  # busiest first
    assert header_labels(columns, "status", True)["status"] == "▲"
