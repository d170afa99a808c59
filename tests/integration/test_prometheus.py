"""`PrometheusSource` against a real Prometheus scraping a real node_exporter (see ``prom_fixture``)."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

import httpx
import psutil
import pytest

from fleetdeck.core.health import HealthSample
from fleetdeck.core.health.prometheus import QUERY_NAMES, PrometheusSource
from prom_fixture import PromStack, require_binaries

HOSTS = {"web01": "web01:9100", "web02": "web02:9100", "db01": "db01:9100"}
FAILING = {"dead01": "dead01:9100"}
#: Rates need two scrapes inside the window; scrapes are 1 s apart, so this is generous.
FIRST_NUMBERS_WITHIN_S = 10.0


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromStack]:
    """Three live instances and one whose scrape fails, shared by the module."""
    binaries = require_binaries()
    stack = PromStack(
        tmp_path_factory.mktemp("prometheus"),
        tuple(HOSTS.values()),
        failing_instances=tuple(FAILING.values()),
        binaries=binaries,
    )
    with stack:
        yield stack


class RequestCounter:
    """An httpx request hook: how many requests a client sent."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(self, request: httpx.Request) -> None:
        self.count += 1


@pytest.fixture
async def counted() -> AsyncIterator[tuple[httpx.AsyncClient, RequestCounter]]:
    counter = RequestCounter()
    async with httpx.AsyncClient(event_hooks={"request": [counter]}) as client:
        yield client, counter


async def _poll_until_rates(source: PrometheusSource, hosts: Mapping[str, str]) -> dict[str, HealthSample]:
    """Poll until every live host has CPU numbers, which need two scrapes."""
    deadline = time.monotonic() + FIRST_NUMBERS_WITHIN_S
    while True:
        batch = await source.sample_all()
        if all(batch[h].status == "up" and batch[h].cpu_pct is not None for h in hosts):
            return batch
        if time.monotonic() > deadline:
            pytest.fail(f"no CPU numbers after {FIRST_NUMBERS_WITHIN_S:.0f}s: {batch}")
        await asyncio.sleep(0.25)


async def test_every_instance_gets_real_numbers(prom: PromStack) -> None:
    async with PrometheusSource(prom.url, HOSTS) as source:
        assert list(source.hosts) == list(HOSTS)
        batch = await _poll_until_rates(source, HOSTS)

    total_mem = psutil.virtual_memory().total
    root_size = psutil.disk_usage("/").total
    boot_uptime = time.time() - psutil.boot_time()
    for host, sample in batch.items():
        assert sample.host == host and sample.status == "up" and sample.reason is None
        for pct in (sample.cpu_pct, sample.cpu_user_pct, sample.cpu_system_pct, sample.mem_used_pct):
            assert pct is not None and 0.0 <= pct <= 100.0, (host, pct)
        assert sample.cores == os.cpu_count()
        assert sample.mem_total_bytes == pytest.approx(total_mem, rel=0.01)
        assert sample.load1 is not None and sample.load1 >= 0
        root = next((fs for fs in sample.filesystems if fs.mount == "/"), None)
        assert root is not None, sample.filesystems
        assert root.size_bytes == pytest.approx(root_size, rel=0.01) and 0 <= root.used_pct <= 100
        assert sample.uptime_s == pytest.approx(boot_uptime, abs=30)
        assert sample.procs > 0  # the fixture enables the processes collector
        assert sample.kernel == platform.release() and sample.os_name
        for rate in (sample.net_rx_bps, sample.net_tx_bps):
            assert rate is not None and rate >= 0
        assert abs(sample.time - time.time()) < 30


async def test_unknown_and_failing_instances_are_down_with_the_reason(prom: PromStack) -> None:
    hosts = {**HOSTS, **FAILING, "ghost": "ghost:9100"}
    async with PrometheusSource(prom.url, hosts) as source:
        batch = await source.sample_all()
        single = await source.sample("ghost")

    assert batch["ghost"].status == "down"
    assert batch["ghost"].reason == "no data from Prometheus for instance ghost:9100"
    assert single.status == "down" and single.reason == batch["ghost"].reason
    assert batch["dead01"].status == "down"
    assert batch["dead01"].reason == "Prometheus scrape of dead01:9100 is failing (up == 0)"
    assert all(batch[h].status == "up" for h in HOSTS)


async def test_requests_per_poll_do_not_depend_on_the_fleet_size(
    prom: PromStack, counted: tuple[httpx.AsyncClient, RequestCounter]
) -> None:
    client, counter = counted
    small = PrometheusSource(prom.url, HOSTS, client=client)
    await small.sample_all()
    assert counter.count == len(QUERY_NAMES)

    big_fleet = {**HOSTS, **{f"n{i:04d}": f"10.9.{i // 250}.{i % 250}:9100" for i in range(1000)}}
    big = PrometheusSource(prom.url, big_fleet, client=client, max_age=30)
    counter.count = 0
    batch = await big.sample_all()
    assert counter.count == len(QUERY_NAMES)
    assert all(batch[h].status == "up" for h in HOSTS)
    assert batch["n0999"].status == "down"

    # The dashboard asks host by host, all at once: still one batch.
    counter.count = 0
    big_again = PrometheusSource(prom.url, big_fleet, client=client, max_age=30)
    samples = await asyncio.gather(*(big_again.sample(h) for h in big_fleet))
    assert counter.count == len(QUERY_NAMES)
    assert [s.host for s in samples] == list(big_fleet)


async def test_stopped_prometheus_makes_every_host_stale_then_recovers(prom: PromStack) -> None:
    hosts = {**HOSTS, "ghost": "ghost:9100"}
    async with PrometheusSource(prom.url, hosts, timeout=3.0) as source:
        before = await source.sample_all()
        prom.stop_prometheus()
        try:
            started = time.monotonic()
            lost = await source.sample_all()
            elapsed = time.monotonic() - started
        finally:
            prom.start_prometheus()
        back = await source.sample_all()

    assert elapsed < 3.5
    for host, sample in lost.items():
        assert sample.status == "stale", sample
        assert sample.reason is not None and prom.url in sample.reason, sample.reason
        assert sample.reason.startswith("cannot reach Prometheus at")
        if before[host].status == "up":
            # The last numbers stay visible, with the time they were taken.
            assert sample.time == before[host].time and sample.mem_total_bytes == before[host].mem_total_bytes
    assert all(back[h].status == "up" for h in HOSTS)
    assert back["ghost"].status == "down"


def test_health_command_reads_prometheus_hosts(prom: PromStack, tmp_path: Path) -> None:
    """``fleetdeck health`` on an inventory whose hosts say ``health = "prometheus"``."""
    config = tmp_path / "config"
    config.mkdir()
    hosts = "\n".join(
        f'[hosts.{name}]\naddress = "{instance.split(":")[0]}"\nhealth = "prometheus"\n'
        for name, instance in {**HOSTS, **FAILING}.items()
    )
    (config / "hosts.toml").write_text(f'[prometheus]\nurl = "{prom.url}"\ninstance = "{{address}}:9100"\n\n{hosts}')
    out = subprocess.run(
        [sys.executable, "-m", "fleetdeck", "--config", str(config), "health", "--json", "--interval", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FLEETDECK_STATE": str(tmp_path / "state")},
    )
    docs = {d["host"]: d for d in map(json.loads, out.stdout.splitlines())}
    assert set(docs) == set(HOSTS) | set(FAILING), out.stderr
    for name in HOSTS:
        assert docs[name]["status"] == "up", docs[name]
        assert 0 <= docs[name]["cpu_pct"] <= 100 and docs[name]["cores"] == os.cpu_count()
    dead = docs[next(iter(FAILING))]
    assert dead["status"] == "down" and "up == 0" in dead["reason"]
    assert out.returncode == 1  # not every host is up
