"""One host's health at one moment, and the protocol every health source implements.

A `HealthSample` is the unit the dashboard draws: plain numbers with plain names, `None` where a source
cannot measure something (a host that is down, a kernel without steal time, a container without disk
counters). `HealthSource` is what the console is given to poll: the local machine today, SSH hosts later.
This module is pure data and never imports textual or rich.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

HostStatus = Literal["up", "stale", "down"]
"""`up`: fresh numbers; `stale`: numbers too old to trust; `down`: no numbers at all."""

PSEUDO_FSTYPES: frozenset[str] = frozenset(
    {
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fuse.lxcfs",
        "fusectl",
        "hugetlbfs",
        "mqueue",
        "nsfs",
        "overlay",
        "proc",
        "pstore",
        "ramfs",
        "rpc_pipefs",
        "securityfs",
        "squashfs",
        "sysfs",
        "tmpfs",
        "tracefs",
    }
)
"""Filesystem types that are not storage (kernel views, containers' layers); every health source skips them."""


@dataclass(frozen=True, slots=True)
class FsUsage:
    """Usage of one mounted filesystem.

    Attributes:
        mount: Where it is mounted, e.g. `/`.
        fstype: Filesystem type as the kernel names it, e.g. `ext4`.
        size_bytes: Total size.
        used_bytes: Bytes in use.
        used_pct: Percent used as `df` reports it (reserved blocks count as unavailable).
        inodes_used_pct: Percent of inodes used, `None` when the filesystem has no fixed inode table.
    """

    mount: str
    fstype: str
    size_bytes: int
    used_bytes: int
    used_pct: float
    inodes_used_pct: float | None


@dataclass(frozen=True, slots=True)
class NetRate:
    """Traffic of one network interface, in bytes per second (``None`` on the first sample)."""

    name: str
    rx_bps: float | None
    tx_bps: float | None


@dataclass(frozen=True, slots=True)
class HealthSample:
    """What one host looked like at `time`.

    Only `host`, `time` and `status` are required so a source can report a host it could not reach as
    `HealthSample(host, now, "down", reason="...")`. Percentages are 0-100, rates are bytes per second over
    the interval since the previous sample (so `None` on a source's first sample), sizes are bytes.
    """

    host: str
    time: float
    """Epoch seconds when the numbers were taken."""
    status: HostStatus
    reason: str | None = None
    """Why a host is stale or down, in words for an operator."""
    cpu_pct: float | None = None
    """Busy CPU: everything but idle and iowait."""
    cpu_user_pct: float | None = None
    cpu_system_pct: float | None = None
    cpu_iowait_pct: float | None = None
    cpu_steal_pct: float | None = None
    load1: float | None = None
    load5: float | None = None
    load15: float | None = None
    cores: int = 0
    """Logical CPUs; 0 when unknown."""
    mem_used_pct: float | None = None
    mem_total_bytes: int | None = None
    mem_available_bytes: int | None = None
    swap_used_pct: float | None = None
    """`None` when the host has no swap configured."""
    filesystems: tuple[FsUsage, ...] = ()
    net_rx_bps: float | None = None
    net_tx_bps: float | None = None
    disk_read_bps: float | None = None
    disk_write_bps: float | None = None
    uptime_s: float | None = None
    procs: int = 0
    kernel: str = ""
    os_name: str = ""
    cpu_per_core_pct: tuple[float, ...] = ()
    """Busy percent of each logical CPU; empty on a source's first sample."""
    net_interfaces: tuple[NetRate, ...] = ()
    """Per-interface rates (loopback left out); empty on a source's first sample."""

    @property
    def worst_disk_pct(self) -> float | None:
        """The fullest filesystem's used percent: the one disk number worth a table column."""
        if not self.filesystems:
            return None
        return max(fs.used_pct for fs in self.filesystems)


class HealthSource(Protocol):
    """Where the dashboard gets its numbers; injected so tests and other transports can stand in."""

    @property
    def hosts(self) -> Sequence[str]:
        """The host names to show, in their configured order."""

    async def sample(self, host: str) -> HealthSample:
        """Measure `host` now.

        Implementations report an unreachable host as a `down` sample where they can; the dashboard also
        turns an exception into a `down` row, so one bad host never stops the others.
        """
