"""Parsers for the text the remote health probe sends: its `tick` section, `df -P` and `/etc/os-release`.

Each function takes one section's text exactly as the host printed it and returns a small frozen dataclass
(or a mapping of them) with plain integers: jiffies, bytes, sectors. The `tick` section holds the numbers the
probe's shell picked out of `/proc` (see `parse_tick`); the slow sections are the commands' own output.
Nothing here computes a rate or a percentage over time; that needs two frames and lives in
`fleetdeck.core.health.frames`. Remote hosts run every Linux from RHEL 5 to today, inside VMs and containers,
so the parsers accept what old kernels leave out (trailing `/proc/stat` columns, `MemAvailable`; the probe
drops the 7-field partition lines of old `/proc/diskstats`) but refuse what
cannot be trusted: a malformed or cut-off section raises `ProbeParseError` naming the section and the problem,
never a bare `IndexError` or `KeyError`. The module is pure and imports neither psutil nor textual nor rich.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from fleetdeck.core.health.sample import PSEUDO_FSTYPES

SECTOR_BYTES = 512
"""`/proc/diskstats` counts 512-byte sectors whatever the device's real sector size."""

"""Filesystem types that hold no operator data (the local source's list plus a few seen only remotely)."""

PSEUDO_DEVICES: frozenset[str] = frozenset(
    {"cgroup", "devtmpfs", "none", "overlay", "proc", "run", "shm", "sysfs", "tmpfs", "udev"}
)
"""Device names that mark a pseudo filesystem when `df` could not print a Type column."""

_VIRTUAL_DISK = re.compile(r"(loop|ram|zram|dm-|md|md_d|drbd|bcache)\d+")
_DF_TYPED = re.compile(
    r"(?P<dev>.*?)\s+(?P<type>\S+)\s+(?P<size>\d+)\s+(?P<used>\d+)\s+(?P<avail>\d+)\s+(?P<cap>\d+%|-)\s(?P<mount>.*)"
)
_DF_UNTYPED = re.compile(
    r"(?P<dev>.*?)\s+(?P<size>\d+)\s+(?P<used>\d+)\s+(?P<avail>\d+)\s+(?P<cap>\d+%|-)\s(?P<mount>.*)"
)
_DF_INODES = re.compile(
    r"(?P<dev>.*?)\s+(?P<total>\d+|-)\s+(?P<used>\d+|-)\s+(?P<free>\d+|-)\s+(?P<cap>\d+%|-)\s(?P<mount>.*)"
)
_MAX_DF_LINE = 8192
"""A mount point is at most PATH_MAX (4096) bytes; longer df lines are garbage, refused before any regex."""


class ProbeParseError(ValueError):
    """A probe section could not be read; the message names the section and what was wrong with it."""


class CpuTimes(NamedTuple):
    """Cumulative jiffies of one CPU line of `/proc/stat` (guest time is already inside user and nice).

    The per-frame counter types are named tuples, not frozen dataclasses: a host sends one of these per CPU,
    disk and interface every tick, and a tuple is built in C where a frozen dataclass sets each field in Python.
    """

    user: int
    nice: int
    system: int
    idle: int
    iowait: int = 0
    irq: int = 0
    softirq: int = 0
    steal: int = 0

    @property
    def total(self) -> int:
        """All accounted time; guest columns are left out because the kernel already counts them in user."""
        return self.user + self.nice + self.system + self.idle + self.iowait + self.irq + self.softirq + self.steal

    @property
    def busy(self) -> int:
        """Time doing work: everything but idle and iowait, as the local psutil source counts it."""
        return self.total - self.idle - self.iowait


@dataclass(frozen=True, slots=True)
class CpuStat:
    """The parts of `/proc/stat` the dashboard uses.

    Attributes:
        total: The aggregate `cpu` line.
        per_core: One entry per `cpuN` line, in file order; its length is the online logical CPU count.
        columns: How many time columns the kernel printed (4 on 2.6.x before iowait, 8 with steal, 10 today),
            so callers can tell "no steal column" from "zero steal".
        btime: Boot time in epoch seconds, `None` if absent.
        procs_running: Runnable tasks now, `None` if absent.
        procs_blocked: Tasks blocked on I/O now, `None` if absent.
    """

    total: CpuTimes
    per_core: tuple[CpuTimes, ...]
    columns: int
    btime: int | None = None
    procs_running: int | None = None
    procs_blocked: int | None = None


@dataclass(frozen=True, slots=True)
class MemInfo:
    """Memory and swap sizes in bytes from `/proc/meminfo`.

    Attributes:
        available_estimated: True when the kernel had no `MemAvailable` (before 3.14) and `available_bytes`
            is MemFree + Buffers + Cached instead, which overstates what can really be reclaimed.
    """

    total_bytes: int
    available_bytes: int
    swap_total_bytes: int
    swap_free_bytes: int
    available_estimated: bool = False


@dataclass(frozen=True, slots=True)
class LoadAvg:
    """`/proc/loadavg`: the three averages, runnable and total scheduling entities (threads), last PID."""

    load1: float
    load5: float
    load15: float
    running: int
    threads: int
    last_pid: int


class NetCounters(NamedTuple):
    """Cumulative bytes one interface has received and sent."""

    rx_bytes: int
    tx_bytes: int


class DiskCounters(NamedTuple):
    """Cumulative 512-byte sectors one disk has read and written."""

    read_sectors: int
    write_sectors: int

    @property
    def read_bytes(self) -> int:
        """Bytes read: sectors times 512."""
        return self.read_sectors * SECTOR_BYTES

    @property
    def write_bytes(self) -> int:
        """Bytes written: sectors times 512."""
        return self.write_sectors * SECTOR_BYTES


@dataclass(frozen=True, slots=True)
class DfEntry:
    """One real filesystem from `df -P -k [-T]`; `fstype` is empty when `df` printed no Type column."""

    device: str
    fstype: str
    mount: str
    size_bytes: int
    used_bytes: int
    avail_bytes: int
    used_pct: float
    """used / (used + available): reserved blocks count as unavailable, like `df` and psutil."""


@dataclass(frozen=True, slots=True)
class OsRelease:
    """The identifying fields of `/etc/os-release`; all empty when the host has no such file (RHEL 5)."""

    id: str = ""
    name: str = ""
    version_id: str = ""
    pretty_name: str = ""

    @property
    def display_name(self) -> str:
        """What to show an operator: PRETTY_NAME, else NAME and VERSION_ID, else empty."""
        return self.pretty_name or " ".join(part for part in (self.name, self.version_id) if part)


def _int(section: str, what: str, text: str) -> int:
    """`int(text)` that fails with a message naming the section and the field."""
    try:
        value = int(text)
    except ValueError:
        raise ProbeParseError(f"{section}: {what} is {text!r}, not a whole number") from None
    if value < 0:
        raise ProbeParseError(f"{section}: {what} is negative ({value})")
    return value


def _ints(texts: list[str]) -> list[int] | None:
    """The fields as non-negative ints, or None if any is not (the caller then says which, and why)."""
    try:
        values = list(map(int, texts))
    except ValueError:
        return None
    return values if not values or min(values) >= 0 else None


def _float(section: str, what: str, text: str) -> float:
    """`float(text)` that fails with a message naming the section and the field."""
    try:
        value = float(text)
    except ValueError:
        raise ProbeParseError(f"{section}: {what} is {text!r}, not a number") from None
    if not 0.0 <= value < float("inf"):
        raise ProbeParseError(f"{section}: {what} is out of range ({text})")
    return value


def _clip(line: str, limit: int = 60) -> str:
    """A line short enough to quote in an error message."""
    return line if len(line) <= limit else line[: limit - 3] + "..."


@dataclass(frozen=True, slots=True)
class Tick:
    """Everything one tick of the probe reports (its `tick` section), as plain counters.

    Attributes:
        cpu: The `cpu` lines of `/proc/stat`, with btime.
        mem: Memory and swap sizes.
        load: The load averages.
        uptime_s: Seconds since boot (centisecond resolution): the clock rates are computed against.
        net: Byte counters per interface, loopback left out.
        disks: Sector counters of whole physical disks only (see `whole_disks`).
        procs: Processes on the host (numeric entries of `/proc`), counted on df ticks.
    """

    cpu: CpuStat
    mem: MemInfo
    load: LoadAvg
    uptime_s: float
    net: dict[str, NetCounters]
    disks: dict[str, DiskCounters]
    procs: int


MEMINFO_KEYS = ("MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapTotal", "SwapFree")
"""The `/proc/meminfo` values of the tick's `m` line, in this order; `-` stands for a line the kernel lacks."""


def parse_tick(text: str) -> Tick:
    """Parse the probe's `tick` section: the numbers it picked out of `/proc` with shell builtins.

    One line per source, tagged by its first field::

        u 1167.48 1680.15                  /proc/uptime
        cpu  10 0 5 80 1 0 0 0 0 0          the cpu lines of /proc/stat, verbatim
        cpu0 ...
        b 1700000000 42                    btime, process count
        m 1000 200 500 10 100 0 0           meminfo in kB, MEMINFO_KEYS order, `-` where absent
        l 0.52 0.66 0.48 3/110 23077       /proc/loadavg, verbatim
        n eth0 2918458871 1234             per interface: received and transmitted bytes
        d sda 400 800                      per disk: sectors read and written

    Old kernels are read as the files were: missing `/proc/stat` columns count as zero (`CpuStat.columns`
    says how many there were), a missing `MemAvailable` is estimated as MemFree + Buffers + Cached.

    Raises:
        ProbeParseError: A required line (`u`, `cpu`, `m`, `l`) is missing, or a line is cut short, not
            numeric, or unknown; the message names what was wrong.
    """
    total: CpuTimes | None = None
    columns = 0
    cores: list[CpuTimes] = []
    net: dict[str, NetCounters] = {}
    rows: dict[str, DiskCounters] = {}
    mem: MemInfo | None = None
    load: LoadAvg | None = None
    uptime: float | None = None
    btime: int | None = None
    procs = 0
    for line in text.split("\n"):
        fields = line.split()
        if not fields:
            continue
        key = fields[0]
        if key == "n":
            if len(fields) != 4 or not (fields[2].isdigit() and fields[3].isdigit()):
                raise ProbeParseError(f"netdev: expected 'iface rx_bytes tx_bytes', got {_clip(line[2:])!r}")
            if fields[1] != "lo":
                net[fields[1]] = NetCounters(int(fields[2]), int(fields[3]))
        elif key == "d":
            if len(fields) != 4 or not (fields[2].isdigit() and fields[3].isdigit()):
                raise ProbeParseError(
                    f"diskstats: expected 'disk sectors_read sectors_written', got {_clip(line[2:])!r}"
                )
            rows[fields[1]] = DiskCounters(int(fields[2]), int(fields[3]))
        elif key == "cpu" or (key.startswith("cpu") and key[3:].isdigit()):
            values = _ints(fields[1:]) or [_int("stat", f"{key} column {i + 1}", v) for i, v in enumerate(fields[1:])]
            if len(values) < 4:
                raise ProbeParseError(f"stat: {key} line has {len(values)} time columns, expected at least 4")
            times = CpuTimes._make(values[:8]) if len(values) >= 8 else CpuTimes(*values)
            if key == "cpu":
                total, columns = times, len(values)
            else:
                cores.append(times)
        elif key == "m":
            mem = _meminfo(fields[1:], line)
        elif key == "l":
            load = _loadavg(fields[1:], line)
        elif key == "u":
            if not 2 <= len(fields) <= 3:
                raise ProbeParseError(f"uptime: expected 'seconds idle_seconds', got {_clip(line[2:])!r}")
            uptime = _float("uptime", "seconds", fields[1])
        elif key == "b":
            if len(fields) != 3:
                raise ProbeParseError(f"stat: expected 'btime processes', got {_clip(line[2:])!r}")
            btime = _int("stat", "btime", fields[1]) or None  # 0: the probe has not read it yet
            procs = _int("procs", "process count", fields[2])
        else:
            raise ProbeParseError(f"tick: unknown line {_clip(line)!r}")
    if uptime is None:
        raise ProbeParseError("uptime: no 'u' line")
    if total is None:
        raise ProbeParseError('stat: no "cpu " line')
    if mem is None:
        raise ProbeParseError("meminfo: no 'm' line")
    if load is None:
        raise ProbeParseError("loadavg: no 'l' line")
    disks = whole_disks(tuple(rows))
    return Tick(
        cpu=CpuStat(total=total, per_core=tuple(cores), columns=columns, btime=btime),
        mem=mem,
        load=load,
        uptime_s=uptime,
        net=net,
        disks={name: c for name, c in rows.items() if name in disks},
        procs=procs,
    )


def _meminfo(values: list[str], line: str) -> MemInfo:
    """The `m` line's kB values as bytes; without `MemAvailable` (before 3.14) it is estimated as
    MemFree + Buffers + Cached, what `free` showed as "-/+ buffers/cache" for years."""
    if len(values) != len(MEMINFO_KEYS):
        raise ProbeParseError(f"meminfo: expected {len(MEMINFO_KEYS)} values, got {_clip(line[2:])!r}")
    kib = {key: _int("meminfo", key, v) for key, v in zip(MEMINFO_KEYS, values, strict=True) if v != "-"}
    total = kib.get("MemTotal")
    if total is None:
        raise ProbeParseError("meminfo: no MemTotal line")
    estimated = "MemAvailable" not in kib
    if estimated and "MemFree" not in kib:
        raise ProbeParseError("meminfo: neither MemAvailable nor MemFree")
    available = kib["MemAvailable"] if not estimated else kib["MemFree"] + kib.get("Buffers", 0) + kib.get("Cached", 0)
    return MemInfo(
        total_bytes=total * 1024,
        available_bytes=min(available, total) * 1024,
        swap_total_bytes=kib.get("SwapTotal", 0) * 1024,
        swap_free_bytes=kib.get("SwapFree", 0) * 1024,
        available_estimated=estimated,
    )


def _loadavg(fields: list[str], line: str) -> LoadAvg:
    """`/proc/loadavg`'s five fields (`0.52 0.66 0.48 3/110 23077`)."""
    if len(fields) != 5 or fields[3].count("/") != 1:
        raise ProbeParseError(f"loadavg: expected 'l1 l5 l15 running/threads lastpid', got {_clip(line[2:])!r}")
    running, _, threads = fields[3].partition("/")
    return LoadAvg(
        load1=_float("loadavg", "load1", fields[0]),
        load5=_float("loadavg", "load5", fields[1]),
        load15=_float("loadavg", "load15", fields[2]),
        running=_int("loadavg", "running", running),
        threads=_int("loadavg", "threads", threads),
        last_pid=_int("loadavg", "last pid", fields[4]),
    )


@functools.lru_cache(maxsize=64)
def whole_disks(names: tuple[str, ...]) -> frozenset[str]:
    """Which of a diskstats listing's devices are whole physical disks, so nothing is counted twice.

    A partition is left out when its parent disk is listed too (the kernel names partitions disk + N, or
    disk + pN when the disk name ends in a digit: `sda1`, `nvme0n1p2`, `mmcblk0p1`); memory-backed and stacked
    devices (`loop`, `ram`, `zram`, `dm-`, `md`, `drbd`, `bcache`) too, because their I/O is either not disk
    I/O or is counted again on the disks beneath them. A partition whose disk is not listed (some Xen guests
    only see `xvda1`) counts as a disk. The listing rarely changes, so the answer is cached.
    """
    listed = dict.fromkeys(names)
    return frozenset(n for n in names if not _VIRTUAL_DISK.fullmatch(n) and not _is_partition(n, listed))


def _is_partition(name: str, listed: Mapping[str, object]) -> bool:
    """True when `name` is a listed disk's name plus a partition number, by the kernel's naming rule."""
    stem = name.rstrip("0123456789")
    if not stem or stem == name:
        return False
    # disk_name(): "p" goes between disk and number only when the disk name ends in a digit (nvme0n1p2);
    # otherwise a trailing "p" belongs to the disk (sdp1 is partition 1 of sdp).
    parent = stem[:-1] if stem.endswith("p") and stem[:-1][-1:].isdigit() else stem
    return parent in listed


def parse_df(text: str) -> tuple[DfEntry, ...]:
    """Parse `df -P -k` output, with or without `-T`, into real filesystems sorted by mount point.

    Pseudo filesystems are dropped (by type, or by device name when there is no Type column), except on `/`:
    an `overlay` root inside a container is the first thing an operator asks about. Bind mounts repeat a
    device; the shortest mount point is kept, as the local source does. Zero-size filesystems are dropped.

    Raises:
        ProbeParseError: No `Filesystem` header, or a row that does not have the POSIX columns.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return ()
    header = lines[0].split()
    if not header or header[0] != "Filesystem":
        raise ProbeParseError(f"df: no 'Filesystem' header line, got {_clip(lines[0])!r}")
    typed = len(header) > 1 and header[1] == "Type"
    pattern = _DF_TYPED if typed else _DF_UNTYPED
    seen: dict[str, DfEntry] = {}
    for number, line in enumerate(lines[1:], start=2):
        match = pattern.fullmatch(line.strip()) if len(line) <= _MAX_DF_LINE else None
        if match is None or not match["mount"].startswith("/"):
            raise ProbeParseError(
                f"df: line {number} is not 'device size used available capacity mount': {_clip(line)!r}"
            )
        device, mount = match["dev"], match["mount"]
        fstype = match["type"] if typed else ""
        pseudo = fstype in PSEUDO_FSTYPES if typed else device in PSEUDO_DEVICES or device.startswith("/dev/loop")
        if pseudo and mount != "/":
            continue
        size, used, avail = (int(match[k]) * 1024 for k in ("size", "used", "avail"))
        if size == 0:
            continue
        known = seen.get(device)
        if known is not None and len(known.mount) <= len(mount):
            continue
        usable = used + avail
        seen[device] = DfEntry(
            device=device,
            fstype=fstype,
            mount=mount,
            size_bytes=size,
            used_bytes=used,
            avail_bytes=avail,
            used_pct=used * 100.0 / usable if usable else 100.0,
        )
    return tuple(sorted(seen.values(), key=lambda fs: fs.mount))


def parse_df_inodes(text: str) -> dict[str, float | None]:
    """Parse `df -P -i` into percent of inodes used per mount point.

    GNU and BusyBox name the columns differently (`IUsed` vs `Used`) but keep the order, so rows are read by
    position. `None` means the filesystem has no fixed inode table (btrfs, vfat show 0 or `-`).

    Raises:
        ProbeParseError: No `Filesystem` header, or a row that does not have the POSIX columns.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return {}
    if lines[0].split()[0] != "Filesystem":
        raise ProbeParseError(f"dfi: no 'Filesystem' header line, got {_clip(lines[0])!r}")
    result: dict[str, float | None] = {}
    for number, line in enumerate(lines[1:], start=2):
        match = _DF_INODES.fullmatch(line.strip()) if len(line) <= _MAX_DF_LINE else None
        if match is None or not match["mount"].startswith("/"):
            raise ProbeParseError(
                f"dfi: line {number} is not 'device inodes used free capacity mount': {_clip(line)!r}"
            )
        total, used = match["total"], match["used"]
        if total in ("-", "0") or used == "-":
            result[match["mount"]] = None
        else:
            result[match["mount"]] = min(100.0, int(used) * 100.0 / int(total))
    return result


def parse_os_release(text: str) -> OsRelease:
    """Parse `/etc/os-release` (shell-style `KEY=value`, values optionally quoted); empty text is no file.

    Raises:
        ProbeParseError: A non-comment line that is not `KEY=value`.
    """
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ProbeParseError(f"osrelease: line {number} is not KEY=value: {_clip(line)!r}")
        values[key] = _unquote(value)
    return OsRelease(
        id=values.get("ID", ""),
        name=values.get("NAME", ""),
        version_id=values.get("VERSION_ID", ""),
        pretty_name=values.get("PRETTY_NAME", ""),
    )


def _unquote(value: str) -> str:
    """Undo os-release quoting: single quotes literal, double quotes with backslash escapes."""
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r'\\([\\"$`])', r"\1", value[1:-1])
    return value


def parse_kernel(text: str) -> str:
    """Parse the probe's `kernel` section (`Linux 6.1.0-18-amd64`, as `uname -sr` prints it)."""
    return " ".join(text.split())
