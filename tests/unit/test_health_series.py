"""Health history: bounded rings, minute rollups, derived metrics."""

from __future__ import annotations

import math
import sys

from fleetdeck.core.health.sample import FsUsage, HealthSample
from fleetdeck.core.health.series import METRICS, HealthHistory, MetricSeries, metric_value, metric_values


def sample(t: float, cpu: float, **kw: object) -> HealthSample:
    return HealthSample("h", t, "up", cpu_pct=cpu, **kw)  # type: ignore[arg-type]


def test_recent_ring_is_bounded_to_the_window() -> None:
    history = HealthHistory(interval_s=2.0, window_s=600.0)
    for i in range(1000):
        history.add(sample(1_000_000 + 2 * i, float(i % 100)))
    recent = history.recent("h", "cpu_pct")
    assert len(recent) == 300
    assert recent[-1] == 99.0 and recent[0] == float((1000 - 300) % 100)


def test_minute_rollups_min_mean_max() -> None:
    series = MetricSeries(points=10)
    base = 6000.0  # a minute boundary
    for i, v in enumerate([10.0, 20.0, 30.0]):
        series.add(base + i * 10, v)
    series.add(base + 60, 50.0)
    rollups = series.all_rollups()
    assert [(r.start, r.min, r.mean, r.max, r.count) for r in rollups] == [
        (6000.0, 10.0, 20.0, 30.0, 3),
        (6060.0, 50.0, 50.0, 50.0, 1),
    ]


def test_rollups_keep_a_day_only() -> None:
    series = MetricSeries(points=2)
    for minute in range(1500):
        series.add(minute * 60.0, float(minute))
    rollups = series.all_rollups()
    assert len(rollups) == 1441  # 1440 closed minutes plus the running one
    assert rollups[0].start == (1500 - 1441) * 60.0


def test_derived_metrics_and_down_samples() -> None:
    fs = (FsUsage("/", "ext4", 100, 91, 91.0, 3.0), FsUsage("/data", "xfs", 100, 40, 40.0, None))
    s = sample(60.0, 5.0, load1=3.0, cores=2, filesystems=fs)
    assert metric_value(s, "load_per_core") == 1.5
    assert metric_value(s, "worst_disk_pct") == 91.0
    assert metric_value(s, "swap_used_pct") is None
    history = HealthHistory()
    history.add(s)
    history.add(HealthSample("h", 62.0, "down", reason="gone"))
    assert history.latest["h"].status == "down"
    assert history.recent("h", "cpu_pct") == [5.0]


def test_metric_values_match_metric_value_by_name() -> None:
    fs = (FsUsage("/", "ext4", 100, 91, 91.0, 3.0),)
    full = HealthSample(
        "h", 60.0, "up", cpu_pct=1.0, mem_used_pct=2.0, swap_used_pct=3.0, load1=4.0, cores=8,
        filesystems=fs, net_rx_bps=5.0, net_tx_bps=6.0, disk_read_bps=7.0, disk_write_bps=8.0,
    )  # fmt: skip
    values = metric_values(full)
    assert len(set(values)) == len(METRICS)  # every metric distinct, so a swapped pair would show
    assert values == tuple(metric_value(full, metric) for metric in METRICS)
    assert metric_values(HealthSample("h", 60.0, "down")) == (None,) * len(METRICS)


def test_history_skips_missing_and_nan_values_per_metric() -> None:
    history = HealthHistory()
    history.add(sample(60.0, math.nan, mem_used_pct=40.0))
    history.add(sample(62.0, 7.0, load1=2.0, cores=0))
    assert history.recent("h", "cpu_pct") == [7.0]
    assert history.recent("h", "mem_used_pct") == [40.0]
    assert history.recent("h", "load1") == [2.0]
    assert history.series("h", "load_per_core") is None  # no cores, no derived value
    assert history.series("h", "no_such_metric") is None and history.series("other", "cpu_pct") is None


def test_memory_per_host_is_fixed() -> None:
    history = HealthHistory(interval_s=2.0)
    for i in range(3000):
        history.add(sample(i * 2.0, 1.0, load1=0.5, cores=4, mem_used_pct=10.0))
    series = history.series("h", "cpu_pct")
    assert series is not None
    assert len(series.recent) == 300 and len(series.rollups) <= 1440
    assert sys.getsizeof(series.recent) < 10_000


def test_parse_ps_output() -> None:
    from fleetdeck.core.health.top import parse_ps

    text = "  812 postgres 12.5  3.1 254000 postgres: writer process\n    1 root      0.0  0.1  11000 /sbin/init\ngarbage\n"
    rows = parse_ps(text)
    assert [(p.pid, p.user, p.cpu_pct, p.mem_pct, p.rss_bytes, p.command) for p in rows] == [
        (812, "postgres", 12.5, 3.1, 254000 * 1024, "postgres: writer process"),
        (1, "root", 0.0, 0.1, 11000 * 1024, "/sbin/init"),
    ]


def test_board_drains_only_changed_hosts() -> None:
    from fleetdeck.core.health.board import HealthBoard

    board = HealthBoard(["a", "b"])
    board.add(HealthSample("a", 1.0, "up", cpu_pct=10.0))
    board.add(HealthSample("b", 1.0, "up", cpu_pct=20.0))
    board.add(HealthSample("a", 3.0, "up", cpu_pct=30.0))
    assert [(s.host, s.cpu_pct) for s in board.drain()] == [("a", 30.0), ("b", 20.0)]
    assert board.drain() == []
    board.add(HealthSample("c", 5.0, "down", reason="x"))
    assert board.hosts == ["a", "b", "c"] and [s.host for s in board.drain()] == ["c"]
    assert board.sparkline("a") == [10.0, 30.0]
