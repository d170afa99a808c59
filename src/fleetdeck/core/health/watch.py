"""Wire a health collector for a set of inventory hosts: SSH probe, this machine, or Prometheus per host.

Used by ``fleetdeck health``, ``fleetdeck alerts --eval``, the daemon and the console; it decides which
source watches each host from the inventory (``health = "auto" | "prometheus" | "off"``) and owns the
transports it opened. :func:`collecting` runs a collector for a block and closes what it opened;
:func:`collect_once` is the one-shot look of the headless commands: one complete sample per host.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fleetdeck.core.health.collector import CollectorSettings, HealthCollector, SampleCallback
from fleetdeck.core.health.prometheus import PrometheusSource
from fleetdeck.core.health.sample import HealthSample
from fleetdeck.core.inventory import Host, Inventory
from fleetdeck.core.transport import SshTransport
from fleetdeck.core.transport.hostkeys import KnownHosts


def prometheus_source(inventory: Inventory, hosts: Sequence[Host], timeout: float = 4.0) -> PrometheusSource | None:
    """A Prometheus source for the hosts that ask for one, or None when none do."""
    settings = inventory.prometheus
    wanted = [h for h in hosts if h.health == "prometheus"]
    if settings is None or not wanted:
        return None
    mapping = {h.name: settings.instance.format(address=h.address, name=h.name, port=h.port) for h in wanted}
    return PrometheusSource(
        settings.url, mapping, timeout=timeout, rate_window=settings.rate_window, matchers=settings.matchers
    )


def build_collector(
    inventory: Inventory,
    hosts: Sequence[Host],
    on_sample: SampleCallback,
    *,
    state: Path,
    settings: CollectorSettings,
    ssh: SshTransport | None = None,
) -> HealthCollector:
    """A collector for ``hosts`` (hosts with ``health = "off"`` are left out)."""
    watched = [h for h in hosts if h.health != "off"]
    if ssh is None and any(not h.is_local and h.health == "auto" for h in watched):
        ssh = SshTransport(KnownHosts(state / "known_hosts"), inventory.get)
    prom = prometheus_source(inventory, watched)
    prom_hosts = [h.name for h in watched if h.health == "prometheus"] if prom else []
    return HealthCollector(watched, on_sample, ssh=ssh, prometheus=prom, prometheus_hosts=prom_hosts, settings=settings)


@asynccontextmanager
async def collecting(collector: HealthCollector) -> AsyncIterator[HealthCollector]:
    """Run ``collector`` for the block; then stop it and close the transports :func:`build_collector` opened."""
    task = asyncio.ensure_future(collector.run())
    try:
        yield collector
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if collector.ssh is not None:
            await collector.ssh.close()
        if collector.prometheus is not None:
            await collector.prometheus.aclose()


async def collect_once(
    inventory: Inventory,
    hosts: Sequence[Host],
    *,
    state: Path,
    settings: CollectorSettings,
    poll_s: float = 0.1,
) -> list[HealthSample]:
    """One complete sample per host, in the order of ``hosts``; bounded in time.

    Rates need two ticks, so a host is done at its second sample, or at once when it is ``down``. The wait
    ends when every host is done or after two intervals plus the slowest connect timeout plus 2 s; a host
    with nothing to show by then gets a ``down`` sample saying "no answer in time".
    """
    latest: dict[str, HealthSample] = {}
    counts: dict[str, int] = {}
    names = [h.name for h in hosts]

    def on_sample(sample: HealthSample) -> None:
        latest[sample.host] = sample
        counts[sample.host] = counts.get(sample.host, 0) + 1

    collector = build_collector(inventory, hosts, on_sample, state=state, settings=settings)
    async with collecting(collector):
        deadline = time.monotonic() + 2 * settings.interval_s + max((h.connect_timeout for h in hosts), default=0) + 2
        while time.monotonic() < deadline:
            if all(n in latest and (latest[n].status == "down" or counts[n] >= 2) for n in names):
                break
            await asyncio.sleep(poll_s)
    return [latest.get(n) or HealthSample(n, time.time(), "down", reason="no answer in time") for n in names]
