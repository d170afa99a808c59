"""Health collection from the real SSH fleet and this machine: samples, stale, down, recovery."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from fleet import FleetFactory
from fleetdeck.core.config import load_config
from fleetdeck.core.health.collector import CollectorSettings, HealthCollector
from fleetdeck.core.health.probe import PROBE_NAME
from fleetdeck.core.health.sample import HealthSample
from fleetdeck.core.inventory import Host
from fleetdeck.core.transport import SshTransport
from fleetdeck.core.transport.hostkeys import KnownHosts

pytestmark = pytest.mark.ssh

FAST = CollectorSettings(
    interval_s=1.0, fs_interval_s=1.0, stale_after_s=2.0, down_after_s=5.0, backoff_initial_s=0.3, backoff_max_s=1.0
)


async def wait_until(pred, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(0.1)
    return bool(pred())


async def test_samples_from_every_host_then_stale_down_and_back(make_fleet: FleetFactory, tmp_path: Path) -> None:
    fleet = make_fleet(3)
    inv = load_config(fleet.config_dir).inventory
    local = Host(name="localhost", address="localhost", user="me", transport="local")
    hosts = [*inv.hosts, local]
    seen: list[HealthSample] = []
    ssh = SshTransport(KnownHosts(tmp_path / "kh"), inv.get)
    collector = HealthCollector(hosts, seen.append, ssh=ssh, settings=FAST)
    task = asyncio.ensure_future(collector.run())
    try:
        names = [h.name for h in hosts]

        def all_up_with_cpu() -> bool:
            return all(
                (s := collector.latest.get(n)) is not None and s.status == "up" and s.cpu_pct is not None for n in names
            )

        assert await wait_until(all_up_with_cpu, 15), collector.latest
        mem_total = psutil.virtual_memory().total
        for name in names:
            s = collector.latest[name]
            assert s.cpu_pct is not None and 0 <= s.cpu_pct <= 100
            assert s.mem_total_bytes is not None and abs(s.mem_total_bytes - mem_total) / mem_total < 0.01
            assert s.cores == psutil.cpu_count() and s.load1 is not None and s.uptime_s
            assert any(fs.mount == "/" for fs in s.filesystems), s.filesystems
            assert len(s.cpu_per_core_pct) == s.cores and all(0 <= v <= 100 for v in s.cpu_per_core_pct)

        fleet.crash_sshd()
        ssh_names = [h.name for h in inv.hosts]
        assert await wait_until(lambda: all(collector.latest[n].status == "stale" for n in ssh_names), 5)
        stale = collector.latest[ssh_names[0]]
        assert stale.cpu_pct is not None and stale.reason
        assert await wait_until(lambda: all(collector.latest[n].status == "down" for n in ssh_names), 12)
        assert collector.latest[ssh_names[0]].reason
        assert collector.latest["localhost"].status == "up", "one host's trouble must not touch another"

        fleet.start_sshd()
        assert await wait_until(lambda: all(collector.latest[n].status == "up" for n in ssh_names), 15)
        order = [s.status for s in seen if s.host == ssh_names[0]]
        first_stale = order.index("stale")
        assert "down" in order[first_stale:] and order[-1] == "up"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await ssh.close()


@contextlib.asynccontextmanager
async def collecting(collector: HealthCollector, ssh: SshTransport) -> AsyncIterator[None]:
    task = asyncio.ensure_future(collector.run())
    try:
        yield
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await ssh.close()


def probes_of(fleet: object) -> list[psutil.Process]:
    """The probe shells the fleet's sshds are running (`sh -c <script> fleetdeck-probe N`, not the login shell)."""
    found = []
    for pid in fleet.pids:  # type: ignore[attr-defined]
        for child in psutil.Process(pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                if child.cmdline()[3:4] == [PROBE_NAME]:
                    found.append(child)
    return found


async def test_each_host_is_asked_once_an_interval_in_a_few_groups(make_fleet: FleetFactory, tmp_path: Path) -> None:
    fleet = make_fleet(6)
    inv = load_config(fleet.config_dir).inventory
    seen: list[tuple[float, HealthSample]] = []
    ssh = SshTransport(KnownHosts(tmp_path / "kh"), inv.get)
    collector = HealthCollector(inv.hosts, lambda s: seen.append((time.monotonic(), s)), ssh=ssh, settings=FAST)
    async with collecting(collector, ssh):
        assert await wait_until(lambda: len(collector.ticker) == 6, 15)
        start = len(seen)
        await asyncio.sleep(4.0)
        window = [(t, s) for t, s in seen[start:] if s.status == "up"]
        assert {s.host for _, s in window} == {h.name for h in inv.hosts}
        per_host = {h.name: sum(1 for _, s in window if s.host == h.name) for h in inv.hosts}
        assert all(3 <= n <= 5 for n in per_host.values()), per_host  # 4 s at 1 s a frame
        # Four slots a second: six hosts share them, so some frames arrive with another host's.
        assert sorted(len(slot) for slot in collector.ticker.slots) == [1, 1, 2, 2]
        assert len(probes_of(fleet)) == 6


async def test_hosts_out_of_sight_are_sampled_at_the_slower_pace_and_none_goes_stale(
    make_fleet: FleetFactory, tmp_path: Path
) -> None:
    fleet = make_fleet(3)
    inv = load_config(fleet.config_dir).inventory
    seen: list[HealthSample] = []
    ssh = SshTransport(KnownHosts(tmp_path / "kh"), inv.get)
    settings = dataclasses.replace(FAST, offscreen_interval_s=3.0)
    collector = HealthCollector(inv.hosts, seen.append, ssh=ssh, settings=settings)
    close, *away = [h.name for h in inv.hosts]
    async with collecting(collector, ssh):
        assert await wait_until(lambda: len(collector.ticker) == 3, 15)
        collector.watch_closely({close})
        await asyncio.sleep(1.5)
        start = len(seen)
        await asyncio.sleep(6.0)
        window = seen[start:]
        assert all(s.status == "up" for s in window), [s for s in window if s.status != "up"]
        per_host = {name: sum(1 for s in window if s.host == name) for name in (close, *away)}
        assert 5 <= per_host[close] <= 7, per_host  # 6 s at 1 s a frame
        assert all(1 <= per_host[name] <= 3 for name in away), per_host  # 6 s at 3 s a frame
        collector.watch_closely(None)
        await asyncio.sleep(1.5)
        start = len(seen)
        await asyncio.sleep(3.0)
        assert all(sum(1 for s in seen[start:] if s.host == name) >= 2 for name in away), seen[start:]


async def test_a_busy_client_does_not_take_its_hosts_for_stale(make_fleet: FleetFactory, tmp_path: Path) -> None:
    fleet = make_fleet(2)
    inv = load_config(fleet.config_dir).inventory
    seen: list[HealthSample] = []
    ssh = SshTransport(KnownHosts(tmp_path / "kh"), inv.get)
    collector = HealthCollector(inv.hosts, seen.append, ssh=ssh, settings=FAST)
    async with collecting(collector, ssh):
        assert await wait_until(lambda: len([s for s in seen if s.status == "up"]) >= 4, 15)
        before = len(seen)
        time.sleep(FAST.stale_after_s + 1.5)  # The event loop stands still; no request goes out meanwhile.
        await asyncio.sleep(3 * FAST.interval_s)
        after = seen[before:]
        assert after and all(s.status == "up" for s in after), [(s.host, s.status, s.reason) for s in after]


async def test_a_hung_probe_goes_stale_and_comes_back_when_it_answers(make_fleet: FleetFactory, tmp_path: Path) -> None:
    fleet = make_fleet(1)
    inv = load_config(fleet.config_dir).inventory
    name = inv.hosts[0].name
    seen: list[HealthSample] = []
    ssh = SshTransport(KnownHosts(tmp_path / "kh"), inv.get)
    settings = CollectorSettings(interval_s=1.0, stale_after_s=2.0, down_after_s=30.0, backoff_initial_s=0.3)
    collector = HealthCollector(inv.hosts, seen.append, ssh=ssh, settings=settings)
    async with collecting(collector, ssh):
        assert await wait_until(lambda: (s := collector.latest.get(name)) is not None and s.status == "up", 15)
        (probe,) = probes_of(fleet)
        probe.send_signal(signal.SIGSTOP)  # A df on a dead NFS mount looks the same from here.
        try:
            assert await wait_until(lambda: collector.latest[name].status == "stale", 5)
            assert "no health data" in (collector.latest[name].reason or "")
        finally:
            probe.send_signal(signal.SIGCONT)
        assert await wait_until(lambda: collector.latest[name].status == "up", 5)
        assert probes_of(fleet) == [probe], "the same probe answered; nothing was restarted"


async def test_unreachable_host_is_down_with_reason(tmp_path: Path) -> None:
    host = Host(name="nowhere", address="127.0.0.1", user="x", port=1, connect_timeout=1.0)
    seen: list[HealthSample] = []
    collector = HealthCollector(
        [host], seen.append, ssh=SshTransport(KnownHosts(tmp_path / "kh"), lambda n: host), settings=FAST
    )
    task = asyncio.ensure_future(collector.run())
    try:
        assert await wait_until(lambda: bool(seen), 5)
        assert seen[0].status == "down" and "Connection refused" in (seen[0].reason or "")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_health_command_json_on_the_fleet(make_fleet: FleetFactory, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    fleet = make_fleet(2)
    out = subprocess.run(
        [sys.executable, "-m", "fleetdeck", "--config", str(fleet.config_dir), "health", "--json", "--interval", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FLEETDECK_STATE": str(tmp_path / "state")},
    )
    assert out.returncode == 0, out.stderr
    docs = [json.loads(line) for line in out.stdout.splitlines()]
    assert [d["host"] for d in docs] == [name for name, _ in fleet.hosts]
    for d in docs:
        assert d["status"] == "up" and d["reason"] is None
        assert {"cpu_pct", "mem_used_pct", "load1", "filesystems", "net_rx_bps", "uptime_s"} <= set(d)
        assert d["cpu_pct"] is not None and d["net_rx_bps"] is not None
        assert any(fs["mount"] == "/" for fs in d["filesystems"])
        assert len(d["cpu_per_core_pct"]) == d["cores"]
    fleet.crash_sshd()
    table = subprocess.run(
        [sys.executable, "-m", "fleetdeck", "--config", str(fleet.config_dir), "health", "--interval", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FLEETDECK_STATE": str(tmp_path / "state")},
    )
    assert table.returncode == 1
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["HOST", "STATUS", "CPU"]
    assert all(" down " in line and "Connection refused" in line for line in lines[1:])


async def test_top_processes_over_ssh_and_locally(make_fleet: FleetFactory, tmp_path: Path) -> None:
    from fleetdeck.core.health.top import top_processes
    from fleetdeck.core.transport import Transports

    fleet = make_fleet(1)
    inv = load_config(fleet.config_dir).inventory
    transports = Transports(SshTransport(KnownHosts(tmp_path / "kh"), inv.get))
    try:
        remote = await top_processes(inv.hosts[0], transports, n=5, key="mem")
        assert 1 <= len(remote) <= 5 and all(p.pid > 0 for p in remote)
        assert [p.mem_pct for p in remote] == sorted((p.mem_pct for p in remote), reverse=True)
        local = await top_processes(Host(name="me", address="localhost", user="x", transport="local"), transports, n=3)
        assert len(local) == 3 and all(p.command for p in local)
    finally:
        await transports.close()
