"""The probe section parsers against hand-written /proc and df captures from five kernels and userlands.

Each directory under `data/proc/` holds one host's source files as the host printed them (the probe itself
picks its `tick` section out of them, see `probe_capture`) and its df sections: RHEL 5 (2.6.18: eight
stat columns, no MemAvailable, 7-field partition lines, no os-release), CentOS 7 (3.10, LVM, Docker), Debian 12
(6.1 on a cloud VM with steal, NVMe, 20-field diskstats), Ubuntu 22.04 (5.15 with snaps, /dev/root, a bind
mount) and an Alpine container under Docker (BusyBox df, overlay root). Expectations are exact numbers read
off those files by hand; every case directory must have one. Garbage and truncation must raise
`ProbeParseError` naming the section, never anything else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fleetdeck.core.health.proc_parse import (
    CpuTimes,
    DiskCounters,
    NetCounters,
    OsRelease,
    ProbeParseError,
    parse_df,
    parse_df_inodes,
    parse_kernel,
    parse_os_release,
    parse_tick,
    whole_disks,
)
from probe_capture import tick_of

CASES = Path(__file__).parent / "data" / "proc"
KIB = 1024


@dataclass(frozen=True)
class Fs:
    """One expected filesystem: the df numbers in KiB, so the test shows the file's own figures."""

    mount: str
    fstype: str
    device: str
    size_kib: int
    used_kib: int
    avail_kib: int


@dataclass(frozen=True)
class Expected:
    cpu: CpuTimes
    columns: int
    cores: int
    btime: int
    mem_total_kib: int
    mem_available_kib: int
    estimated: bool
    swap_total_kib: int
    swap_free_kib: int
    load: tuple[float, float, float, int, int, int]
    uptime: tuple[float, float]
    net: dict[str, tuple[int, int]]
    disks: dict[str, tuple[int, int]]
    filesystems: list[Fs]
    inodes: dict[str, float | None]
    os: OsRelease
    kernel: str
    procs: int
    extra: dict[str, object] = field(default_factory=dict)


EXPECTED: dict[str, Expected] = {
    "rhel5-2.6.18": Expected(
        cpu=CpuTimes(2255, 34, 2290, 22625563, 6290, 127, 456, 0),
        columns=8,
        cores=2,
        btime=1455000000,
        mem_total_kib=2059612,
        mem_available_kib=144288 + 198520 + 1356740,
        estimated=True,
        swap_total_kib=4128760,
        swap_free_kib=4128596,
        load=(0.08, 0.03, 0.01, 1, 112, 4011),
        uptime=(113204.42, 225983.10),
        net={"eth0": (2918458871, 315674219), "sit0": (0, 0)},
        disks={"hdc": (112, 0), "sda": (2841106, 3412952)},
        filesystems=[
            Fs("/", "ext3", "/dev/mapper/VolGroup00-LogVol00", 36756152, 4188528, 30670388),
            Fs("/boot", "ext3", "/dev/sda1", 101086, 18863, 76999),
        ],
        inodes={"/": 152147 * 100 / 9486336, "/boot": 38 * 100 / 26104, "/dev/shm": 100 / 257451},
        os=OsRelease(),
        kernel="Linux 2.6.18-398.el5",
        procs=97,
    ),
    "centos7-3.10": Expected(
        cpu=CpuTimes(5438690, 130099, 2270786, 53564417, 22960, 0, 23023, 0),
        columns=10,
        cores=4,
        btime=1698751230,
        mem_total_kib=7990064,
        mem_available_kib=5638300,
        estimated=False,
        swap_total_kib=8257532,
        swap_free_kib=8189948,
        load=(0.41, 0.37, 0.35, 3, 612, 28841),
        uptime=(153671.20, 597214.33),
        net={
            "vethd41c2f7": (1848211, 25390722),
            "eth0": (88271943521, 21748890183),
            "docker0": (1648989, 25390722),
        },
        disks={"sda": (152498712, 512664925), "sr0": (0, 0)},
        filesystems=[
            Fs("/", "xfs", "/dev/mapper/centos-root", 52403200, 19843592, 32559608),
            Fs("/boot", "xfs", "/dev/sda1", 1038336, 234648, 803688),
            Fs("/home", "xfs", "/dev/mapper/centos-home", 461129160, 88121524, 373007636),
        ],
        inodes={"/": 351826 * 100 / 26214400, "/boot": 340 * 100 / 524288, "/home": 118443 * 100 / 230680576},
        os=OsRelease(id="centos", name="CentOS Linux", version_id="7", pretty_name="CentOS Linux 7 (Core)"),
        kernel="Linux 3.10.0-1160.102.1.el7.x86_64",
        procs=241,
    ),
    "debian12-6.1": Expected(
        cpu=CpuTimes(1020448, 2217, 263559, 30712540, 35066, 0, 19760, 41876),
        columns=10,
        cores=4,
        btime=1717400000,
        mem_total_kib=4005800,
        mem_available_kib=2867164,
        estimated=False,
        swap_total_kib=0,
        swap_free_kib=0,
        load=(0.27, 0.31, 0.29, 2, 187, 481920),
        uptime=(80266.91, 307125.40),
        net={"ens5": (6218840917, 1377251093)},
        disks={"nvme0n1": (14716390, 60471520)},
        filesystems=[
            Fs("/", "ext4", "/dev/nvme0n1p1", 20134592, 3867456, 15421348),
            Fs("/boot/efi", "vfat", "/dev/nvme0n1p15", 126678, 11840, 114838),
        ],
        inodes={"/": 102519 * 100 / 1310720, "/boot/efi": None, "/run/user/1000": 28 * 100 / 100145},
        os=OsRelease(
            id="debian", name="Debian GNU/Linux", version_id="12", pretty_name="Debian GNU/Linux 12 (bookworm)"
        ),
        kernel="Linux 6.1.0-21-cloud-amd64",
        procs=132,
    ),
    "ubuntu2204-5.15": Expected(
        cpu=CpuTimes(3170935, 11520, 1147802, 52896514, 217341, 0, 64883, 0),
        columns=10,
        cores=2,
        btime=1716200000,
        mem_total_kib=8139440,
        mem_available_kib=4986344,
        estimated=False,
        swap_total_kib=2097148,
        swap_free_kib=1835004,
        load=(1.12, 0.86, 0.74, 4, 842, 1188234),
        uptime=(282155.37, 529140.55),
        net={
            "eth0": (31742081337, 9927148503),
            "docker0": (118735920, 1931771034),
            "veth8c1f2a0": (73204117, 907261120),
        },
        disks={"sda": (43217822, 356117984), "sdb": (5212762, 9113904)},
        filesystems=[
            Fs("/", "ext4", "/dev/root", 50620216, 27463712, 23140120),
            Fs("/boot/efi", "vfat", "/dev/sda15", 106858, 6186, 100673),
            Fs("/data", "ext4", "/dev/sdb", 103080224, 61408812, 36412200),
        ],
        inodes={"/": 512842 * 100 / 6451200, "/boot/efi": None, "/data": 50.0, "/snap/lxd/27948": 100.0},
        os=OsRelease(id="ubuntu", name="Ubuntu", version_id="22.04", pretty_name="Ubuntu 22.04.4 LTS"),
        kernel="Linux 5.15.0-1061-aws",
        procs=218,
    ),
    "alpine-docker-5.10": Expected(
        cpu=CpuTimes(61871, 12, 40334, 4722151, 2961, 0, 1553, 0),
        columns=10,
        cores=2,
        btime=1718610000,
        mem_total_kib=4027364,
        mem_available_kib=3330828,
        estimated=False,
        swap_total_kib=1048572,
        swap_free_kib=1048572,
        load=(0.0, 0.02, 0.0, 1, 374, 40321),
        uptime=(24185.77, 47220.60),
        net={"tunl0": (0, 0), "ip6tnl0": (0, 0), "eth0": (15628, 1294)},
        disks={"vda": (2904338, 5541392), "nbd0": (0, 0), "nbd1": (0, 0), "sr0": (2056, 0)},
        filesystems=[
            Fs("/", "overlay", "overlay", 61255492, 23845060, 34269108),
            Fs("/etc/hosts", "ext4", "/dev/vda1", 61255492, 23845060, 34269108),
        ],
        inodes={"/": 529414 * 100 / 3907584, "/etc/hosts": 529414 * 100 / 3907584},
        os=OsRelease(id="alpine", name="Alpine Linux", version_id="3.19.1", pretty_name="Alpine Linux v3.19"),
        kernel="Linux 5.10.104-linuxkit",
        procs=4,
    ),
}


def case_names() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if p.is_dir())


def section(case: str, name: str) -> str:
    return (CASES / case / name).read_text(encoding="utf-8")


def test_every_case_directory_has_expectations() -> None:
    assert case_names() == sorted(EXPECTED)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_golden_stat(case: str) -> None:
    want = EXPECTED[case]
    stat = parse_tick(tick_of(case)).cpu
    assert stat.total == want.cpu
    assert stat.columns == want.columns
    assert len(stat.per_core) == want.cores
    assert stat.btime == want.btime
    # The aggregate line is the sum of the per-core lines on every real kernel.
    for column in ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"):
        assert sum(getattr(core, column) for core in stat.per_core) == getattr(stat.total, column), column


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_golden_meminfo_loadavg_uptime(case: str) -> None:
    want = EXPECTED[case]
    tick = parse_tick(tick_of(case))
    mem = tick.mem
    assert mem.total_bytes == want.mem_total_kib * KIB
    assert mem.available_bytes == want.mem_available_kib * KIB
    assert mem.available_estimated is want.estimated
    assert (mem.swap_total_bytes, mem.swap_free_bytes) == (want.swap_total_kib * KIB, want.swap_free_kib * KIB)

    load = tick.load
    assert (load.load1, load.load5, load.load15, load.running, load.threads, load.last_pid) == want.load
    assert tick.uptime_s == want.uptime[0]


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_golden_netdev_and_diskstats(case: str) -> None:
    want = EXPECTED[case]
    tick = parse_tick(tick_of(case))
    assert tick.net == {n: NetCounters(*v) for n, v in want.net.items()}
    disks = tick.disks
    assert disks == {n: DiskCounters(*v) for n, v in want.disks.items()}
    for name, (read, write) in want.disks.items():
        assert (disks[name].read_bytes, disks[name].write_bytes) == (read * 512, write * 512)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_golden_df(case: str) -> None:
    want = EXPECTED[case]
    got = parse_df(section(case, "df"))
    assert [(fs.mount, fs.fstype, fs.device) for fs in got] == [(f.mount, f.fstype, f.device) for f in want.filesystems]
    for fs, f in zip(got, want.filesystems, strict=True):
        assert (fs.size_bytes, fs.used_bytes, fs.avail_bytes) == (f.size_kib * KIB, f.used_kib * KIB, f.avail_kib * KIB)
        assert fs.used_pct == pytest.approx(f.used_kib * 100 / (f.used_kib + f.avail_kib))
    inodes = parse_df_inodes(section(case, "dfi"))
    for mount, pct in want.inodes.items():
        assert inodes[mount] == (pytest.approx(pct) if pct is not None else None), mount


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_golden_os_kernel_procs(case: str) -> None:
    want = EXPECTED[case]
    assert parse_os_release(section(case, "osrelease")) == want.os
    assert parse_kernel(section(case, "kernel")) == want.kernel
    assert parse_tick(tick_of(case)).procs == want.procs


def tick(**lines: str) -> str:
    """A well-formed `tick` section; keyword arguments replace (or, empty, drop) lines by their tag."""
    default = {
        "u": "u 100.00 50.00",
        "cpu": "cpu  10 1 5 100 0 0 0 0 0 0\ncpu0 10 1 5 100 0 0 0 0 0 0",
        "b": "b 1700000000 42",
        "m": "m 1000 200 500 10 100 0 0",
        "l": "l 0.52 0.66 0.48 3/110 23077",
        "n": "n eth0 100 200",
        "d": "d sda 1 2",
    }
    default.update(lines)
    return "".join(line + "\n" for line in default.values() if line)


def test_old_kernel_stat_without_iowait_or_steal_reads_zeros_and_says_so() -> None:
    stat = parse_tick(tick(cpu="cpu  10 1 5 100\ncpu0 10 1 5 100")).cpu
    assert stat.total == CpuTimes(10, 1, 5, 100)
    assert stat.columns == 4 and stat.total.busy == 16 and stat.total.total == 116


def test_guest_columns_are_not_counted_twice() -> None:
    stat = parse_tick(tick(cpu="cpu  100 0 50 800 10 0 5 5 70 0")).cpu
    assert stat.total.total == 970  # guest (70) is already inside user (100)


def test_meminfo_available_never_exceeds_total() -> None:
    mem = parse_tick(tick(m="m 1000 800 - 300 400 - -")).mem
    assert mem.available_bytes == 1000 * KIB and mem.available_estimated
    assert (mem.swap_total_bytes, mem.swap_free_bytes) == (0, 0)


def test_a_btime_not_read_yet_is_none_and_loopback_is_left_out() -> None:
    got = parse_tick(tick(b="b 0 0", n="n lo 5 5\nn eth0 1 2"))
    assert got.cpu.btime is None and got.procs == 0
    assert got.net == {"eth0": NetCounters(1, 2)}


def test_diskstats_partition_naming_rule() -> None:
    names = ["sda", "sda1", "sdp", "sdp1", "nvme0n1", "nvme0n1p2", "mmcblk0", "mmcblk0p1", "xvda1", "md0", "dm-3"]
    assert sorted(whole_disks(tuple(names))) == ["mmcblk0", "nvme0n1", "sda", "sdp", "xvda1"]
    disks = parse_tick(tick(d="\n".join(f"d {name} {i * 10} {i * 100}" for i, name in enumerate(names, start=1))))
    assert disks.disks == {n: DiskCounters(i * 10, i * 100) for i, n in enumerate(names, start=1) if n in disks.disks}
    assert sorted(disks.disks) == ["mmcblk0", "nvme0n1", "sda", "sdp", "xvda1"]


def test_df_without_type_column_filters_pseudo_devices_by_name() -> None:
    text = (
        "Filesystem           1024-blocks    Used Available Capacity Mounted on\n"
        "overlay                 61255492  23845060  34269108  41% /\n"
        "tmpfs                      65536         0     65536   0% /dev\n"
        "shm                        65536         0     65536   0% /dev/shm\n"
        "/dev/loop3                 40064     40064         0 100% /snap/snapd/21465\n"
        "/dev/vda1               61255492  23845060  34269108  41% /etc/hosts\n"
    )
    got = parse_df(text)
    assert [(fs.mount, fs.fstype) for fs in got] == [("/", ""), ("/etc/hosts", "")]


def test_df_keeps_spaces_in_mount_points_and_dashes_for_empty_filesystems() -> None:
    text = (
        "Filesystem     Type 1024-blocks   Used Available Capacity Mounted on\n"
        "/dev/sdc1      ext4     1000000 250000    750000      25% /mnt/My Backups\n"
        "/dev/sdd1      ext4           0      0         0        - /mnt/empty\n"
    )
    (fs,) = parse_df(text)
    assert fs.mount == "/mnt/My Backups" and fs.used_pct == 25.0


def test_os_release_unquotes_like_a_shell() -> None:
    text = '# comment\nNAME=\'Single Quoted\'\nPRETTY_NAME="Say \\"hi\\" \\$HOME"\nVERSION_ID=1\n'
    got = parse_os_release(text)
    assert got.name == "Single Quoted" and got.pretty_name == 'Say "hi" $HOME'
    assert OsRelease(name="Foo", version_id="2").display_name == "Foo 2"


Parser = Callable[[str], object]

GARBAGE: list[tuple[str, Parser, str, str]] = [
    ("tick empty", parse_tick, "", "uptime: no 'u' line"),
    ("tick unknown line", parse_tick, tick(d="disk sda 1 2"), "tick: unknown line 'disk sda 1 2'"),
    ("stat missing", parse_tick, tick(cpu=""), 'stat: no "cpu " line'),
    ("stat words", parse_tick, tick(cpu="cpu  a b c d"), "stat: cpu column 1 is 'a'"),
    ("stat truncated line", parse_tick, tick(cpu="cpu  1 2"), "stat: cpu line has 2 time columns"),
    ("stat negative", parse_tick, tick(cpu="cpu  1 2 3 -4"), "stat: cpu column 4 is negative"),
    ("btime short", parse_tick, tick(b="b 1700000000"), "stat: expected 'btime processes'"),
    ("procs words", parse_tick, tick(b="b 1700000000 many"), "procs: process count is 'many'"),
    ("meminfo missing", parse_tick, tick(m=""), "meminfo: no 'm' line"),
    ("meminfo no total", parse_tick, tick(m="m - 1 2 3 4 5 6"), "meminfo: no MemTotal line"),
    ("meminfo junk", parse_tick, tick(m="m lots 1 2 3 4 5 6"), "meminfo: MemTotal is 'lots'"),
    ("meminfo cut short", parse_tick, tick(m="m 1000 200"), "meminfo: expected 7 values"),
    ("meminfo old no free", parse_tick, tick(m="m 100 - - - - - -"), "meminfo: neither MemAvailable nor MemFree"),
    ("loadavg missing", parse_tick, tick(l=""), "loadavg: no 'l' line"),
    ("loadavg short", parse_tick, tick(l="l 0.52 0.66"), "loadavg: expected"),
    ("loadavg nan", parse_tick, tick(l="l nan 0.66 0.48 3/110 23077"), "loadavg: load1 is out of range"),
    ("loadavg words", parse_tick, tick(l="l 0.52 0.66 0.48 x/110 23077"), "loadavg: running is 'x'"),
    ("uptime missing", parse_tick, tick(u=""), "uptime: no 'u' line"),
    ("uptime words", parse_tick, tick(u="u up 3 days"), "uptime: expected"),
    ("uptime text", parse_tick, tick(u="u forever"), "uptime: seconds is 'forever'"),
    (
        "netdev truncated",
        parse_tick,
        tick(n="n eth0 123"),
        "netdev: expected 'iface rx_bytes tx_bytes', got 'eth0 123'",
    ),
    ("netdev words", parse_tick, tick(n="n eth0 x 2"), "netdev: expected"),
    ("diskstats truncated", parse_tick, tick(d="d sda 1"), "diskstats: expected 'disk sectors_read"),
    ("diskstats words", parse_tick, tick(d="d sda x 4"), "diskstats: expected"),
    ("df no header", parse_df, "/dev/sda1 100 50 50 50% /\n", "df: no 'Filesystem' header"),
    (
        "df cut row",
        parse_df,
        "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 100 5",
        "df: line 2",
    ),
    ("df relative mount", parse_df, "Filesystem 1K Used Avail Cap Mounted on\nx 1 1 0 100% here\n", "df: line 2"),
    ("dfi no header", parse_df_inodes, "garbage\n", "dfi: no 'Filesystem' header"),
    ("dfi cut row", parse_df_inodes, "Filesystem Inodes IUsed IFree IUse% Mounted on\n/dev/sda1 10", "dfi: line 2"),
    ("osrelease junk", parse_os_release, "this is not os-release\n", "osrelease: line 1 is not KEY=value"),
]


@pytest.mark.parametrize(("label", "parser", "text", "message"), GARBAGE, ids=[g[0] for g in GARBAGE])
def test_garbage_raises_probe_parse_error_naming_the_section(
    label: str, parser: object, text: str, message: str
) -> None:
    assert callable(parser)
    with pytest.raises(ProbeParseError) as caught:
        parser(text)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith(message), str(caught.value)


@pytest.mark.parametrize("case", sorted(EXPECTED))
@pytest.mark.parametrize("name", ["tick", "df", "dfi", "osrelease"])
def test_every_truncation_of_a_real_section_parses_or_raises_probe_parse_error(case: str, name: str) -> None:
    parsers: dict[str, Parser] = {
        "tick": parse_tick,
        "df": parse_df,
        "dfi": parse_df_inodes,
        "osrelease": parse_os_release,
    }
    text = tick_of(case) if name == "tick" else section(case, name)
    for cut in range(len(text)):
        with contextlib.suppress(ProbeParseError):
            parsers[name](text[:cut])


def test_binary_noise_raises_probe_parse_error() -> None:
    noise = bytes(range(256)).decode("latin-1") * 3
    parsers: list[tuple[Parser, str]] = [
        (parse_tick, noise),
        (parse_tick, "u 1 1\n" + noise),
        (parse_df, "Filesystem x\n" + noise),
        (parse_df_inodes, "Filesystem x\n" + noise),
        (parse_os_release, noise),
    ]
    for parser, text in parsers:
        with pytest.raises(ProbeParseError):
            parser(text)
