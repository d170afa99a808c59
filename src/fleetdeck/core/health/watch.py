"""Wire a health collector for a set of inventory hosts: SSH probe, this machine, or Prometheus per host.

Used by ``fleetdeck health`` and the console; it decides which source watches each host from the
inventory (``health = "auto" | "prometheus" | "off"``) and owns the transports it opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fleetdeck.core.health.collector import CollectorSettings, HealthCollector, SampleCallback
from fleetdeck.core.health.prometheus import PrometheusSource
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
