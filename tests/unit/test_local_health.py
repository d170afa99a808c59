"""`LocalHealthSource` against this machine's real psutil: ranges, rates on the second sample, `/`."""

from __future__ import annotations

import asyncio
import math
from collections import namedtuple
from pathlib import Path

import psutil
import pytest

from fleetdeck.core.health import HealthSample
from fleetdeck.core.health.local import LocalHealthSource, read_os_name


def _pct_ok(value: float | None) -> bool:
    return value is not None and 0.0 <= value <= 100.0


async def test_two_samples_have_sane_numbers_and_rates_appear_second() -> None:
    source = LocalHealthSource(["localhost"])
    assert list(source.hosts) == ["localhost"]

    first = await source.sample("localhost")
    await asyncio.sleep(0.6)  # past the sharing window, so the second call measures again
    second = await source.sample("localhost")

    for sample in (first, second):
        assert isinstance(sample, HealthSample)
        assert sample.host == "localhost" and sample.status == "up" and sample.reason is None
        assert _pct_ok(sample.mem_used_pct), sample.mem_used_pct
        assert sample.cores >= 1 and sample.procs >= 1
        assert sample.load1 is not None and sample.load1 >= 0
        assert sample.mem_total_bytes and sample.mem_available_bytes is not None
        assert 0 <= sample.mem_available_bytes <= sample.mem_total_bytes
        assert sample.uptime_s is not None and sample.uptime_s >= 0
        assert sample.kernel and sample.os_name
        assert sample.swap_used_pct is None or _pct_ok(sample.swap_used_pct)

    # The first reading has nothing to compare with: no CPU split, no rates (as over SSH).
    assert first.cpu_pct is None and first.cpu_per_core_pct == ()
    for pct in (second.cpu_pct, second.cpu_user_pct, second.cpu_system_pct):
        assert _pct_ok(pct), pct
    assert len(second.cpu_per_core_pct) == second.cores
    assert first.net_rx_bps is None and first.net_tx_bps is None
    assert first.disk_read_bps is None and first.disk_write_bps is None
    assert second.time > first.time
    for rate in (second.net_rx_bps, second.net_tx_bps):
        assert rate is not None and rate >= 0 and math.isfinite(rate)
    # Containers may have no block devices; where there are counters there must be rates.
    if second.disk_read_bps is not None:
        assert second.disk_read_bps >= 0 and second.disk_write_bps is not None


async def test_filesystems_are_real_deduplicated_and_include_root() -> None:
    sample = await LocalHealthSource(["localhost"]).sample("localhost")

    mounts = [fs.mount for fs in sample.filesystems]
    assert "/" in mounts
    assert len(mounts) == len(set(mounts))
    assert not {fs.fstype for fs in sample.filesystems if fs.mount != "/"} & {"tmpfs", "proc", "sysfs"}
    for fs in sample.filesystems:
        assert fs.size_bytes > 0 and 0 <= fs.used_bytes <= fs.size_bytes
        assert _pct_ok(fs.used_pct)
        assert fs.inodes_used_pct is None or _pct_ok(fs.inodes_used_pct)
    assert sample.worst_disk_pct == max(fs.used_pct for fs in sample.filesystems)


async def test_every_local_name_gets_the_same_measurement() -> None:
    source = LocalHealthSource(["localhost", "127.0.0.1"])

    a, b = await asyncio.gather(source.sample("localhost"), source.sample("127.0.0.1"))

    assert (a.host, b.host) == ("localhost", "127.0.0.1")
    assert (a.time, a.cpu_pct, a.mem_used_pct) == (b.time, b.cpu_pct, b.mem_used_pct)


def test_os_name_comes_from_pretty_name(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n', encoding="utf-8")

    assert read_os_name(release) == "Debian GNU/Linux 12 (bookworm)"
    assert read_os_name(tmp_path / "missing")  # falls back to the platform, never empty


def test_worst_disk_pct_is_none_without_filesystems() -> None:
    assert HealthSample(host="h", time=0.0, status="down").worst_disk_pct is None


async def test_cpu_comes_from_our_own_deltas_whatever_else_calls_psutil(monkeypatch: pytest.MonkeyPatch) -> None:
    # psutil.cpu_percent(interval=None) keeps one "previous call" for the whole process; a second caller
    # (another source, a plugin) right before a sample used to make it read 100% busy.
    fields = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    Times = namedtuple("Times", fields)
    readings = iter([(100, 0, 50, 800, 10, 0, 0, 0), (130, 0, 60, 860, 10, 0, 0, 0)])
    current: dict[str, tuple[int, ...]] = {}

    def cpu_times(percpu: bool = False) -> object:
        if not percpu:
            current["now"] = next(readings)
        times = Times(*(v / 100 for v in current["now"]))
        return [times, times] if percpu else times

    source = LocalHealthSource(["localhost"])
    monkeypatch.setattr(psutil, "cpu_times", cpu_times)
    first = await source.sample("localhost")
    await asyncio.sleep(0.6)
    monkeypatch.undo()
    psutil.cpu_percent(interval=None)
    psutil.cpu_times_percent(interval=None)
    monkeypatch.setattr(psutil, "cpu_times", cpu_times)
    second = await source.sample("localhost")

    assert first.cpu_pct is None
    # Deltas: user 30, system 10, idle 60 of 100.
    assert second.cpu_pct == pytest.approx(40.0)
    assert second.cpu_user_pct == pytest.approx(30.0)
    assert second.cpu_system_pct == pytest.approx(10.0)
    assert second.cpu_iowait_pct == pytest.approx(0.0)
    assert second.cpu_per_core_pct == pytest.approx((40.0, 40.0))
