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


@dataclass(frozen=True, slots=True)
class Rollup:
    """One minute of a metric: when it started and the min, mean and max of its samples."""

    start: float
    min: float
    mean: float
    max: float
    count: int


class _Accumulator:
    __slots__ = ("count", "high", "low", "start", "total")

    def __init__(self, start: float) -> None:
        self.start = start
        self.count = 0
        self.total = 0.0
        self.low = math.inf
        self.high = -math.inf

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)

    def rollup(self) -> Rollup:
        return Rollup(self.start, self.low, self.total / self.count, self.high, self.count)


class MetricSeries:
    """One metric of one host: a ring of recent points and a ring of minute rollups."""

    __slots__ = ("_current", "recent", "rollups")

    def __init__(self, points: int, rollups: int = ROLLUPS_KEPT) -> None:
        self.recent: deque[tuple[float, float]] = deque(maxlen=points)
        self.rollups: deque[Rollup] = deque(maxlen=rollups)
        self._current: _Accumulator | None = None

    def add(self, when: float, value: float) -> None:
        """Record a point; closes the running minute when ``when`` is in a later one."""
        self.recent.append((when, value))
        minute = when - (when % ROLLUP_S)
        if self._current is None or minute != self._current.start:
            if self._current is not None and self._current.count:
                self.rollups.append(self._current.rollup())
            self._current = _Accumulator(minute)
        self._current.add(value)

    def values(self, since: float | None = None) -> list[float]:
        """Recent values, oldest first, optionally only those at or after ``since``."""
        return [v for t, v in self.recent if since is None or t >= since]

    def all_rollups(self) -> list[Rollup]:
        """Closed minutes plus the running one, oldest first."""
        out = list(self.rollups)
        if self._current is not None and self._current.count:
            out.append(self._current.rollup())
        return out


class HealthHistory:
    """History of every host; feed it every sample, read sparklines and rollups from it."""

    def __init__(self, interval_s: float = 2.0, window_s: float = 600.0) -> None:
        self.points = max(2, math.ceil(window_s / max(interval_s, 0.1)))
        self._series: dict[str, dict[str, MetricSeries]] = {}
        self.latest: dict[str, HealthSample] = {}

    def add(self, sample: HealthSample) -> None:
        """Record a sample; down and stale samples update ``latest`` but add no points."""
        self.latest[sample.host] = sample
        if sample.status != "up":
            return
        host = self._series.setdefault(sample.host, {})
        for metric in METRICS:
            value = metric_value(sample, metric)
            if value is None or math.isnan(value):
                continue
            series = host.get(metric)
            if series is None:
                series = host[metric] = MetricSeries(self.points)
            series.add(sample.time, value)

    def series(self, host: str, metric: str) -> MetricSeries | None:
        """The series of one metric of one host, if it has any points."""
        return self._series.get(host, {}).get(metric)

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
