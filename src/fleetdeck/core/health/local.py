"""`LocalHealthSource`: this machine's health, measured with psutil.

psutil calls block (they read `/proc` and call `statvfs`), so each measurement runs in a worker thread via
`asyncio.to_thread` and the event loop never waits on the kernel. CPU percentages and byte rates are deltas
between consecutive measurements, which is why the CPU counters are primed when the source is built and why
rates are `None` on the first sample. Several configured names may all mean this machine (`localhost`,
the hostname): they share one measurement per poll instead of each taking a near-zero-length delta.
Nothing here imports textual or rich.
"""

from __future__ import annotations

import asyncio
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import psutil

from fleetdeck.core.health.frames import cpu_percents, per_core_percents
from fleetdeck.core.health.proc_parse import CpuStat, CpuTimes
from fleetdeck.core.health.sample import PSEUDO_FSTYPES, FsUsage, HealthSample, NetRate

"""Filesystem types that hold no operator data; their usage numbers only add noise."""

SHARE_WINDOW_S = 0.5
"""Calls closer together than this reuse one measurement, so every local name gets the same numbers."""

OS_RELEASE = Path("/etc/os-release")


@dataclass(frozen=True, slots=True)
class _Counters:
    """Cumulative I/O counters at one monotonic instant, kept to turn the next reading into rates."""

    at: float
    nics: dict[str, tuple[int, int]]
    net_rx: int
    net_tx: int
    disk_read: int | None
    disk_write: int | None


class LocalHealthSource:
    """Samples this machine for every name in `names`.

    Args:
        names: Host names to report, in display order. All of them are this machine.
    """

    def __init__(self, names: Sequence[str]) -> None:
        self._names = tuple(names)
        self._kernel = platform.release()
        self._os_name = read_os_name(OS_RELEASE)
        self._cores = psutil.cpu_count(logical=True) or 0
        self._lock = asyncio.Lock()
        self._last: HealthSample | None = None
        self._last_at = 0.0
        self._counters: _Counters | None = None
        self._cpu: CpuStat | None = None
        """The previous CPU times. Percentages are computed from our own deltas, not psutil's
        ``cpu_percent(interval=None)``, whose one module-wide "previous call" any other caller in the
        process resets (two calls close together read 100% busy)."""

    @property
    def hosts(self) -> Sequence[str]:
        """The configured local names."""
        return self._names

    async def sample(self, host: str) -> HealthSample:
        """Measure this machine and label the result `host`.

        Args:
            host: One of the configured names; the numbers are the same for all of them.

        Returns:
            An `up` sample; rates are `None` until a second measurement exists.
        """
        async with self._lock:
            if self._last is None or time.monotonic() - self._last_at >= SHARE_WINDOW_S:
                self._last = await asyncio.to_thread(self._measure)
                self._last_at = time.monotonic()
            measured = self._last
        return measured if measured.host == host else replace(measured, host=host)

    def _measure(self) -> HealthSample:
        """Take one full reading; runs in a worker thread."""
        now = time.time()
        cpu_now = read_cpu_stat()
        cpu_before, self._cpu = self._cpu, cpu_now
        busy, user, system, iowait, steal = (
            cpu_percents(cpu_before, cpu_now) if cpu_before is not None else (None, None, None, None, None)
        )
        load1, load5, load15 = psutil.getloadavg()
        vm = psutil.virtual_memory()
        swap = psutil.swap_memory()
        counters = self._read_counters()
        previous, self._counters = self._counters, counters
        rx, tx, read, write = _rates(previous, counters)
        interfaces = _interfaces(previous, counters)
        return HealthSample(
            host=self._names[0] if self._names else "localhost",
            time=now,
            status="up",
            cpu_pct=busy,
            cpu_user_pct=user,
            cpu_system_pct=system,
            cpu_iowait_pct=iowait,
            cpu_steal_pct=steal,
            load1=load1,
            load5=load5,
            load15=load15,
            cores=self._cores,
            mem_used_pct=vm.percent,
            mem_total_bytes=vm.total,
            mem_available_bytes=vm.available,
            swap_used_pct=swap.percent if swap.total else None,
            filesystems=read_filesystems(),
            net_rx_bps=rx,
            net_tx_bps=tx,
            disk_read_bps=read,
            disk_write_bps=write,
            uptime_s=max(0.0, now - psutil.boot_time()),
            procs=len(psutil.pids()),
            kernel=self._kernel,
            os_name=self._os_name,
            cpu_per_core_pct=per_core_percents(cpu_before, cpu_now) if cpu_before is not None else (),
            net_interfaces=interfaces,
        )

    @staticmethod
    def _read_counters() -> _Counters:
        """Read network and disk byte counters; loopback is left out because it is not traffic."""
        nics = psutil.net_io_counters(pernic=True)
        real = [c for name, c in nics.items() if not name.startswith("lo")]
        disk = psutil.disk_io_counters()
        return _Counters(
            at=time.monotonic(),
            nics={name: (c.bytes_recv, c.bytes_sent) for name, c in nics.items() if not name.startswith("lo")},
            net_rx=sum(c.bytes_recv for c in real),
            net_tx=sum(c.bytes_sent for c in real),
            disk_read=disk.read_bytes if disk is not None else None,
            disk_write=disk.write_bytes if disk is not None else None,
        )


def _interfaces(previous: _Counters | None, current: _Counters) -> tuple[NetRate, ...]:
    """Per-interface byte rates between two readings; a counter that went back gives ``None``."""
    if previous is None:
        return ()
    elapsed = current.at - previous.at
    if elapsed <= 0:
        return ()
    out = []
    for name, (rx_now, tx_now) in sorted(current.nics.items()):
        if name not in previous.nics:
            continue
        rx_before, tx_before = previous.nics[name]
        rx = (rx_now - rx_before) / elapsed if rx_now >= rx_before else None
        tx = (tx_now - tx_before) / elapsed if tx_now >= tx_before else None
        out.append(NetRate(name, rx, tx))
    return tuple(out)


def _rates(
    previous: _Counters | None, current: _Counters
) -> tuple[float | None, float | None, float | None, float | None]:
    """Bytes per second for rx, tx, disk read, disk write between two readings."""
    if previous is None:
        return None, None, None, None
    elapsed = current.at - previous.at
    if elapsed <= 0:
        return None, None, None, None

    def rate(before: int | None, after: int | None) -> float | None:
        # A counter that went backwards was reset (interface re-created); no honest rate exists.
        if before is None or after is None or after < before:
            return None
        return (after - before) / elapsed

    return (
        rate(previous.net_rx, current.net_rx),
        rate(previous.net_tx, current.net_tx),
        rate(previous.disk_read, current.disk_read),
        rate(previous.disk_write, current.disk_write),
    )


def read_cpu_stat() -> CpuStat:
    """This machine's CPU times (total and per CPU) in centiseconds, shaped like the probe's `/proc/stat`."""
    total = psutil.cpu_times()
    columns = 8 if hasattr(total, "steal") else 5 if hasattr(total, "iowait") else 4
    return CpuStat(
        total=_cpu_times(total), per_core=tuple(_cpu_times(t) for t in psutil.cpu_times(percpu=True)), columns=columns
    )


def _cpu_times(times: object) -> CpuTimes:
    """psutil's seconds as integer centiseconds; fields a platform lacks read as zero."""

    def field(name: str) -> int:
        return int(getattr(times, name, 0.0) * 100)

    return CpuTimes(
        user=field("user"),
        nice=field("nice"),
        system=field("system"),
        idle=field("idle"),
        iowait=field("iowait"),
        irq=field("irq"),
        softirq=field("softirq"),
        steal=field("steal"),
    )


def read_filesystems() -> tuple[FsUsage, ...]:
    """Usage of each real filesystem, one entry per device, sorted by mount point.

    The root filesystem is always kept, even as `overlay` inside a container, because it is the first
    thing an operator asks about.
    """
    seen: dict[str, FsUsage] = {}
    for part in psutil.disk_partitions(all=False):
        if part.fstype in PSEUDO_FSTYPES and part.mountpoint != "/":
            continue
        # Bind mounts repeat a device; the shortest mount point is the one people recognise.
        known = seen.get(part.device)
        if known is not None and len(known.mount) <= len(part.mountpoint):
            continue
        try:
            usage = psutil.disk_usage(part.mountpoint)
        except OSError:
            continue  # Unmounted or unreadable between listing and measuring.
        seen[part.device] = FsUsage(
            mount=part.mountpoint,
            fstype=part.fstype,
            size_bytes=usage.total,
            used_bytes=usage.used,
            used_pct=usage.percent,
            inodes_used_pct=_inodes_used_pct(part.mountpoint),
        )
    return tuple(sorted(seen.values(), key=lambda fs: fs.mount))


def _inodes_used_pct(mount: str) -> float | None:
    """Percent of inodes in use, `None` where the filesystem allocates inodes dynamically."""
    try:
        st = os.statvfs(mount)
    except OSError:
        return None
    if st.f_files == 0:
        return None
    return _clamp_pct((st.f_files - st.f_ffree) * 100.0 / st.f_files)


def read_os_name(path: Path) -> str:
    """The distribution's `PRETTY_NAME`, falling back to the platform name when there is none."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "PRETTY_NAME" and value.strip():
            return value.strip().strip("\"'")
    return f"{platform.system()} {platform.release()}".strip()


def _clamp_pct(value: float) -> float:
    """Keep rounding noise in psutil's percentages inside 0-100."""
    return min(100.0, max(0.0, value))
