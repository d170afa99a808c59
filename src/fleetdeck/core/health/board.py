"""The health board: what consumers (the console, alert rules) read, fed by the collector.

The collector pushes every sample into :meth:`HealthBoard.add`; that only records it (latest value,
bounded history, a dirty mark) so it is cheap at any rate. Consumers drain the dirty hosts on their
own clock (the console about ten times a second) and redraw just those, never once per sample.
"""

from __future__ import annotations

from collections.abc import Sequence

from fleetdeck.core.health.sample import HealthSample
from fleetdeck.core.health.series import HealthHistory


class HealthBoard:
    """Latest sample and history of every watched host, with a set of hosts changed since last drain."""

    def __init__(self, hosts: Sequence[str] = (), *, interval_s: float = 2.0, window_s: float = 600.0) -> None:
        self.hosts: list[str] = list(hosts)
        self.history = HealthHistory(interval_s=interval_s, window_s=window_s)
        self._dirty: dict[str, None] = {}

    @property
    def latest(self) -> dict[str, HealthSample]:
        """The newest sample of each host that has reported."""
        return self.history.latest

    def add(self, sample: HealthSample) -> None:
        """Record a sample (the collector's callback)."""
        if sample.host not in self.history.latest and sample.host not in self.hosts:
            self.hosts.append(sample.host)
        self.history.add(sample)
        self._dirty[sample.host] = None

    def drain(self) -> list[HealthSample]:
        """Latest samples of the hosts that changed since the previous drain, in the order they changed."""
        changed = [self.history.latest[h] for h in self._dirty if h in self.history.latest]
        self._dirty.clear()
        return changed

    def sparkline(self, host: str, metric: str = "cpu_pct", points: int = 30) -> list[float]:
        """The last ``points`` values of a metric, oldest first."""
        return self.history.recent(host, metric)[-points:]
