"""Bounded health history per host: recent samples at full rate, plus one-minute rollups for a day.

Memory is fixed per host and metric whatever the run time: a ring of the last ``window_s`` seconds at
the collection rate (10 minutes by default; 300 points at 2 s) and a ring of 1,440 one-minute rollups
(min, mean, max). Sparklines read the recent ring; forecasts and trends read the rollups.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from fleetdeck.core.health.sample import HealthSample

METRICS: tuple[str, ...] = (
    "cpu_pct",
    "mem_used_pct",
    "swap_used_pct",
    "load1",
    "load_per_core",
    "worst_disk_pct",
    "net_rx_bps",
    "net_tx_bps",
    "disk_read_bps",
    "disk_write_bps",
)
"""Metrics kept in history, by the names samples and alert rules use."""

ROLLUP_S = 60.0
ROLLUPS_KEPT = 24 * 60


def metric_value(sample: HealthSample, metric: str) -> float | None:
    """One metric of a sample by name; derived ones (``load_per_core``, ``worst_disk_pct``) included."""
    if metric == "load_per_core":
        if sample.load1 is None or not sample.cores:
            return None
        return sample.load1 / sample.cores
    if metric == "worst_disk_pct":
        return sample.worst_disk_pct
    value = getattr(sample, metric, None)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def metric_values(sample: HealthSample) -> tuple[float | None, ...]:
    """Every metric of `METRICS` at once, in that order: what `metric_value` gives one by one.

    The history takes every sample of every host, so it reads the fields directly instead of by name.
    """
    load1, cores = sample.load1, sample.cores
    return (
        sample.cpu_pct,
        sample.mem_used_pct,
        sample.swap_used_pct,
        load1,
        load1 / cores if load1 is not None and cores else None,
        sample.worst_disk_pct,
        sample.net_rx_bps,
        sample.net_tx_bps,
        sample.disk_read_bps,
        sample.disk_write_bps,
    )


_METRIC_INDEX = {metric: index for index, metric in enumerate(METRICS)}


@dataclass(frozen=True, slots=True)
class Rollup:
    """One minute of a metric: when it started and the min, mean and max of its samples."""

    start: float
    min: float
    mean: float
    max: float
    count: int


class MetricSeries:
    """One metric of one host: a ring of recent points and a ring of minute rollups.

    The running minute is kept in plain slots (no accumulator object, no `min`/`max` calls): every host's
    every metric passes through `add` on each sample.
    """

    __slots__ = ("_count", "_high", "_low", "_start", "_total", "recent", "rollups")

    def __init__(self, points: int, rollups: int = ROLLUPS_KEPT) -> None:
        self.recent: deque[tuple[float, float]] = deque(maxlen=points)
        self.rollups: deque[Rollup] = deque(maxlen=rollups)
        self._start = math.nan
        self._count = 0
        self._total = 0.0
        self._low = math.inf
        self._high = -math.inf

    def add(self, when: float, value: float) -> None:
        """Record a point; closes the running minute when ``when`` is in a later one."""
        self.add_in_minute(when, value, when - (when % ROLLUP_S))

    def add_in_minute(self, when: float, value: float, minute: float) -> None:
        """`add`, with the start of ``when``'s minute already worked out (once per sample, not per metric)."""
        self.recent.append((when, value))
        if minute != self._start:
            if self._count:
                self.rollups.append(self._rollup())
            self._start = minute
            self._count = 1
            self._total = self._low = self._high = value
            return
        self._count += 1
        self._total += value
        if value < self._low:
            self._low = value
        if value > self._high:
            self._high = value

    def _rollup(self) -> Rollup:
        return Rollup(self._start, self._low, self._total / self._count, self._high, self._count)

    def values(self, since: float | None = None) -> list[float]:
        """Recent values, oldest first, optionally only those at or after ``since``."""
        return [v for t, v in self.recent if since is None or t >= since]

    def all_rollups(self) -> list[Rollup]:
        """Closed minutes plus the running one, oldest first."""
        out = list(self.rollups)
        if self._count:
            out.append(self._rollup())
        return out


class HealthHistory:
    """History of every host; feed it every sample, read sparklines and rollups from it."""

    def __init__(self, interval_s: float = 2.0, window_s: float = 600.0) -> None:
        self.points = max(2, math.ceil(window_s / max(interval_s, 0.1)))
        self._series: dict[str, list[MetricSeries | None]] = {}
        """Per host, one series per `METRICS` entry, `None` until that metric has a value."""
        self.latest: dict[str, HealthSample] = {}

    def add(self, sample: HealthSample) -> None:
        """Record a sample; down and stale samples update ``latest`` but add no points."""
        self.latest[sample.host] = sample
        if sample.status != "up":
            return
        host = self._series.get(sample.host)
        if host is None:
            host = self._series[sample.host] = [None] * len(METRICS)
        when = sample.time
        minute = when - (when % ROLLUP_S)
        for index, value in enumerate(metric_values(sample)):
            if value is None or value != value:  # None, or NaN
                continue
            series = host[index]
            if series is None:
                series = host[index] = MetricSeries(self.points)
            series.add_in_minute(when, float(value), minute)

    def series(self, host: str, metric: str) -> MetricSeries | None:
        """The series of one metric of one host, if it has any points."""
        index = _METRIC_INDEX.get(metric)
        row = self._series.get(host)
        return row[index] if row is not None and index is not None else None

    def recent(self, host: str, metric: str, since: float | None = None) -> list[float]:
        """Recent values for a sparkline."""
        series = self.series(host, metric)
        return series.values(since) if series is not None else []

    def rollups(self, host: str, metric: str) -> list[Rollup]:
        """Minute rollups for trends and forecasts."""
        series = self.series(host, metric)
        return series.all_rollups() if series is not None else []

    def forget(self, hosts: Iterable[str]) -> None:
        """Drop hosts no longer watched."""
        for host in hosts:
            self._series.pop(host, None)
            self.latest.pop(host, None)
