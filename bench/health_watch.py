"""Benchmark: watching N loopback SSH hosts' health for a while, fleetdeck against two ways of polling /proc.

One real OpenSSH fleet (``tests/fleet.py``: N loopback addresses, ceil(N/16) sshd shards) serves every run.
Each variant is a child process (``health_clients.py``) that connects, settles, and then collects health for
``--duration`` seconds at ``--interval`` while this harness measures it:

- (a) ``controlmaster``: one OpenSSH ControlMaster per host, opened before the window; every interval
  ``ssh -S CTL host cat /proc/stat /proc/meminfo /proc/loadavg /proc/net/dev /proc/diskstats /proc/uptime``
  for every host, 64 at a time, counting bytes;
- (b) ``asyncssh-chan``: one asyncssh connection per host; ``conn.run("cat /proc/...")`` per host per interval,
  so a new session channel (and a new shell and ``cat`` on the host) per sample;
- (c) ``fleetdeck``: ``HealthCollector`` from ``build_collector`` on the fleet's config: one long-lived probe
  channel per host whose ``sh`` loop pushes a frame every interval, forking only its ``sleep``.

(c) collects more than (a) and (b): CPU per core, process count and, every 30 s, ``df`` (two forks on the host),
and it parses every frame into a sample; (a) and (b) only count bytes.

Per run: client CPU (user+sys of the child's whole process tree over the window, as % of one core), client
peak RSS and PSS (sum over that tree, sampled every 2 s in the window: (a) is 1 driver + N ssh masters +
the per-sample ssh clients), host-side CPU (the sshd shard trees, see :func:`tree_cpu_ticks`), samples/s
received, and lag (see ``health_clients.py``: ``transit`` is host read to sample in hand, ``lag`` is a change
on the host to the sample that shows it, integrated over when the change happens). Variants alternate
round-robin, the order rotating each round; the table shows medians of the OK runs, with ratios against (a)
and (b). Raw records: ``bench/results/health_watch-*.jsonl``. ``--profile`` adds one fleetdeck run under
cProfile and one under py-spy (``bench/.venv``), not counted, and prints where its CPU goes.

    .venv/bin/python bench/health_watch.py [--hosts 200] [--duration 60] [--interval 2] [--runs 3] [--profile]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import pstats
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from measure import CLOCK_TICKS, box_busy_s, fold_pyspy, wait_children_gone
from peers import BENCH_DIR, BENCH_VENV, FANOUT, PeerFiles, bench_env, write_peer_files

REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO / "tests"))
from fleet import SshFleet  # noqa: E402  (tests/ is not a package)

RESULTS_DIR = BENCH_DIR / "results"
CLIENTS = BENCH_DIR / "health_clients.py"
CM, AX, FD = "controlmaster", "asyncssh-chan", "fleetdeck"
VARIANTS = (CM, AX, FD)
LABELS = {CM: "(a) ssh ControlMaster", AX: "(b) asyncssh chan/sample", FD: "(c) fleetdeck probe"}
TARGET_CLIENT_PCT = 5.0
MEM_EVERY_S = 2.0
TEARDOWN_LIMIT_S = 120.0
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# -- /proc snapshots -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proc:
    pid: int
    ppid: int
    own_ticks: int  # utime + stime
    reaped_ticks: int  # cutime + cstime: children that exited and were waited for
    rss_kb: int
    comm: str


def scan_proc() -> dict[int, Proc]:
    """Every process of the machine, from one pass over /proc/*/stat."""
    procs: dict[int, Proc] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        # After the comm: fields[1] ppid, [11] utime, [12] stime, [13] cutime, [14] cstime, [21] rss (pages).
        pid = int(entry.name)
        procs[pid] = Proc(
            pid,
            int(fields[1]),
            int(fields[11]) + int(fields[12]),
            int(fields[13]) + int(fields[14]),
            int(fields[21]) * PAGE_KB,
            stat[stat.index(b"(") + 1 : stat.rindex(b")")].decode(errors="replace"),
        )
    return procs


def tree(roots: Iterable[int], procs: Mapping[int, Proc]) -> list[Proc]:
    """The roots and all their live descendants."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for proc in procs.values():
        children[proc.ppid].append(proc.pid)
    found, stack = [], [pid for pid in roots if pid in procs]
    while stack:
        pid = stack.pop()
        found.append(procs[pid])
        stack.extend(children.get(pid, ()))
    return found


def tree_cpu_ticks(members: Iterable[Proc]) -> int:
    """CPU ticks a process tree has used: for every live member its own utime+stime plus cutime+cstime.

    cutime/cstime hold the CPU of the children a process has reaped, so a short-lived process (a per-sample
    shell and ``cat``, the probe's ``sleep``, a per-sample ``ssh`` client) is counted once it exits and its
    parent waits for it, in that parent. Orphans are no hole: every sshd shard is a subreaper
    (PR_SET_CHILD_SUBREAPER, ``tests/fleet.py``) and the ControlMaster driver makes itself one, so a process
    whose parent died is reparented to, and reaped by, a member of the same tree instead of init. The delta
    between two snapshots is then the tree's CPU in between, including processes that started and ended
    inside the window (a process alive at the first snapshot counts from what it had then).
    """
    return sum(p.own_ticks + p.reaped_ticks for p in members)


def pss_kb(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
    return total


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- one run ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class RunRecord:
    variant: str
    round: int
    ok: bool
    window_s: float = 0.0
    client_cpu_s: float = 0.0
    client_cpu_pct: float = 0.0
    client_rss_mb: float = 0.0
    client_pss_mb: float = 0.0
    host_cpu_s: float = 0.0
    host_cpu_pct: float = 0.0
    host_pss_mb: float = 0.0
    host_procs: int = 0
    teardown_s: float | None = None  # "stop" to the child's exit (its connections closed)
    teardown_killed: bool = False  # still running TEARDOWN_LIMIT_S after "stop"
    stderr_tail: list[str] = field(default_factory=list)
    box_busy_pct: float = 0.0
    load_start: str = ""
    load_end: str = ""
    samples_per_s: float | None = None
    lag_p50_s: float | None = None
    lag_p95_s: float | None = None
    transit_p50_s: float | None = None
    transit_p95_s: float | None = None
    problem: str | None = None
    client_parts: dict[str, float] = field(default_factory=dict)
    host_parts: dict[str, float] = field(default_factory=dict)
    ready: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)


class Child:
    """A client process with its stdout lines on a queue."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, stderr: IO[bytes]) -> None:
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(raw.decode(errors="replace").rstrip("\n"))
        self.lines.put(None)

    def expect(self, mark: str, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                return None
            if line.startswith(mark):
                doc: dict[str, Any] = json.loads(line[len(mark) :])
                return doc
        return None

    def say(self, word: str) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.write(word.encode() + b"\n")
            self.proc.stdin.flush()

    def finish(self, timeout: float) -> bool:
        """Wait for the child to exit, killing its process group after ``timeout``; True if it exited itself."""
        exited = True
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            exited = False
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        return exited


def client_argv(variant: str, files: PeerFiles, workdir: Path, args: argparse.Namespace) -> list[str]:
    common = ["--interval", str(args.interval), "--ready-timeout", str(args.ready_timeout)]
    if variant == FD:
        argv = ["fleetdeck", "--config", str(files.config_dir), "--state", str(files.state_dir)]
    elif variant == CM:
        argv = [
            "controlmaster", "--ssh-config", str(files.ssh_config), "--hosts", str(files.names),
            "--ctl-dir", str(workdir / "ctl"), "--concurrency", str(args.concurrency),
        ]  # fmt: skip
    else:
        argv = [
            "asyncssh", "--hosts", str(files.ref_hosts), "-u", files.user, "-k", str(files.client_key),
            "-K", str(files.known_hosts),
        ]  # fmt: skip
    return [sys.executable, str(CLIENTS), *argv, *common]


def kill_leftovers(marker: str) -> None:
    """SIGTERM any process whose command line names ``marker`` (a ControlMaster outliving its driver)."""
    for pid in scan_proc():
        if pid != os.getpid() and marker in cmdline(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def client_parts(variant: str, root: int, members: Sequence[Proc]) -> dict[str, int]:
    """CPU ticks of the client tree by role (only (a) has more than one process)."""
    if variant != CM:
        return {"process": tree_cpu_ticks(members)}
    parts = {"driver": 0, "masters": 0, "ssh clients": 0}
    for p in members:
        if p.pid == root:
            parts["driver"] += p.own_ticks
            parts["ssh clients"] += p.reaped_ticks  # reaped per-sample clients (masters live on)
        elif "[mux]" in cmdline(p.pid):
            parts["masters"] += p.own_ticks + p.reaped_ticks
        else:
            parts["ssh clients"] += p.own_ticks + p.reaped_ticks
    return parts


def host_parts(members: Sequence[Proc]) -> dict[str, int]:
    """CPU ticks of the host trees by program: ``sshd`` (own work) and ``by sshd`` (what sshd reaped: the
    per-sample shells and ``cat``), ``sh`` (the probe loop itself) and ``by sh`` (its ``sleep`` and ``df``)."""
    parts: dict[str, int] = collections.defaultdict(int)
    for p in members:
        name = "sh" if p.comm in ("sh", "dash", "bash", "busybox", "fleetdeck-probe") else p.comm
        parts[name] += p.own_ticks
        parts[f"by {name}"] += p.reaped_ticks
    return parts


def measure_run(
    variant: str,
    round_no: int,
    fleet: SshFleet,
    files: PeerFiles,
    workdir: Path,
    args: argparse.Namespace,
    *,
    profile: str | None = None,
    pyspy: tuple[str, Path] | None = None,
) -> RunRecord:
    """Start one client, wait until it is steady, measure ``args.duration`` seconds of it, stop it."""
    record = RunRecord(variant, round_no, ok=False, load_start=loadavg())
    argv = client_argv(variant, files, workdir, args)
    if profile:
        argv += ["--profile", profile]
    stderr_path = workdir / f"{variant}-{round_no}.stderr"
    problems: list[str] = []
    with stderr_path.open("wb") as stderr:
        child = Child(argv, bench_env(), workdir, stderr)
        root = child.proc.pid
        try:
            ready = child.expect("READY ", args.ready_timeout + 30)
            if ready is None:
                problems.append("never became ready")
                return record
            record.ready = ready
            if ready.get("ready") != ready.get("hosts"):
                problems.append(f"ready {ready.get('ready')}/{ready.get('hosts')} hosts")
            time.sleep(args.settle)
            spy = None
            procs0 = scan_proc()
            client0, host0 = tree([root], procs0), tree(fleet.pids, procs0)
            box0, t0 = box_busy_s(), time.monotonic()
            child.say("start")
            if pyspy is not None:
                spy = subprocess.Popen(
                    [pyspy[0], "record", "--pid", str(root), "--duration", str(int(args.duration)), "--rate", "100",
                     "--nonblocking", "--format", "raw", "-o", str(pyspy[1])],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            rss_peak = pss_peak = 0
            while (left := t0 + args.duration - time.monotonic()) > 0:
                time.sleep(min(MEM_EVERY_S, left))
                if left > MEM_EVERY_S / 2:
                    members = tree([root], scan_proc())
                    rss_peak = max(rss_peak, sum(p.rss_kb for p in members))
                    pss_peak = max(pss_peak, pss_kb(p.pid for p in members))
            procs1 = scan_proc()
            client1, host1 = tree([root], procs1), tree(fleet.pids, procs1)
            box1, t1 = box_busy_s(), time.monotonic()
            record.host_pss_mb = pss_kb(p.pid for p in host1) / 1024  # before "stop": sessions close after it
            if spy is not None:  # py-spy's own window ends about now; let it write its file first
                spy.wait(30)
            child.say("stop")
            stopped = time.monotonic()
            record.load_end = loadavg()
            record.host_procs = len(host1)
            window = t1 - t0
            record.window_s = window
            record.client_cpu_s = (tree_cpu_ticks(client1) - tree_cpu_ticks(client0)) / CLOCK_TICKS
            record.host_cpu_s = (tree_cpu_ticks(host1) - tree_cpu_ticks(host0)) / CLOCK_TICKS
            record.client_cpu_pct = 100 * record.client_cpu_s / window
            record.host_cpu_pct = 100 * record.host_cpu_s / window
            record.box_busy_pct = 100 * (box1 - box0) / window
            record.client_rss_mb, record.client_pss_mb = rss_peak / 1024, pss_peak / 1024
            parts0, parts1 = client_parts(variant, root, client0), client_parts(variant, root, client1)
            record.client_parts = {k: 100 * (parts1[k] - parts0.get(k, 0)) / CLOCK_TICKS / window for k in parts1}
            hparts0, hparts1 = host_parts(host0), host_parts(host1)
            record.host_parts = {
                k: round(100 * (hparts1[k] - hparts0.get(k, 0)) / CLOCK_TICKS / window, 2)
                for k in hparts1
                if hparts1[k] != hparts0.get(k, 0)
            }
            result = child.expect("RESULT ", 60)
            if result is None:
                problems.append("no RESULT")
                return record
            record.teardown_killed = not child.finish(TEARDOWN_LIMIT_S)
            record.teardown_s = time.monotonic() - stopped
            record.result = result
            for key in ("samples_per_s", "lag_p50_s", "lag_p95_s", "transit_p50_s", "transit_p95_s"):
                setattr(record, key, result.get(key))
            n = len(fleet.hosts)
            if result.get("hosts_seen") != n:
                problems.append(f"samples from {result.get('hosts_seen')}/{n} hosts")
            if result.get("failures"):
                problems.append(f"{result['failures']} failed samples")
            if abs(result.get("clock_skew_s", 0.0)) > 0.05:
                problems.append(f"/proc/uptime vs CLOCK_BOOTTIME skew {result['clock_skew_s']:.3f}s: lag invalid")
        finally:
            child.finish(60)
            kill_leftovers(str(workdir / "ctl"))
            record.ok = not problems
            record.stderr_tail = stderr_path.read_text(errors="replace").strip().splitlines()[-5:]
            if problems:
                tail = " | ".join(record.stderr_tail[-3:])
                record.problem = "; ".join(problems) + (f"; stderr: {tail[:300]}" if tail else "")
    return record


# -- reporting -------------------------------------------------------------------------------------

COLUMNS = (
    # (header, attribute, format)
    ("client CPU %", "client_cpu_pct", "12.2f"),
    ("RSS MB", "client_rss_mb", "7.0f"),
    ("PSS MB", "client_pss_mb", "7.0f"),
    ("host CPU %", "host_cpu_pct", "10.2f"),
    ("host PSS MB", "host_pss_mb", "11.0f"),
    ("samples/s", "samples_per_s", "9.1f"),
    ("lag p50 s", "lag_p50_s", "9.2f"),
    ("lag p95 s", "lag_p95_s", "9.2f"),
    ("transit p50 ms", "transit_p50_s", "14.0f"),
)


def _median(records: Sequence[RunRecord], attr: str) -> float | None:
    values = [getattr(r, attr) for r in records if getattr(r, attr) is not None]
    return statistics.median(values) if values else None


def _num(value: float | None, fmt: str) -> str:
    if value is None:
        width = fmt.split(".", 1)[0]
        return format("-", f">{width}") if width else "-"
    return format(value, fmt)


def render(records: Sequence[RunRecord], args: argparse.Namespace, n: int) -> list[str]:
    counted = [r for r in records if r.round > 0]
    med: dict[str, dict[str, float | None]] = {}
    lines = [
        f"N = {n} hosts, interval {args.interval:g}s, window {args.duration:g}s; medians of OK runs; "
        f"CPU % = CPU seconds in the window / window, 100 = one core"
    ]
    header = f"{'variant':<25} {'runs ok':>7} " + " ".join(f"{h:>{len(h)}}" for h, _, _ in COLUMNS)
    lines += [header, "-" * len(header)]
    for variant in VARIANTS:
        runs = [r for r in counted if r.variant == variant]
        if not runs:
            continue
        ok = [r for r in runs if r.ok]
        med[variant] = {attr: _median(ok, attr) for _, attr, _ in COLUMNS}
        status = f"{len(ok)}/{len(runs)}" if len(ok) == len(runs) else f"FAIL {len(runs) - len(ok)}/{len(runs)}"
        cells = []
        for _, attr, fmt in COLUMNS:
            value = med[variant][attr]
            if attr == "transit_p50_s" and value is not None:
                value *= 1000
            cells.append(_num(value, fmt))
        lines.append(f"{LABELS[variant]:<25} {status:>7} " + " ".join(cells))
    loads = [float(r.load_start.split()[0]) for r in counted if r.load_start]
    busy = [r.box_busy_pct for r in counted if r.ok]
    if loads and busy:
        lines.append(
            f"load average (1 min) at run starts {min(loads):.2f}-{max(loads):.2f}; whole machine busy in the "
            f"windows {min(busy):.0f}-{max(busy):.0f}% of 200%"
        )
    lines.append("")
    lines.append("ratios (row / column):     client CPU vs (a)  vs (b)   host CPU vs (a)  vs (b)   PSS vs (a)  vs (b)")
    for variant in VARIANTS:
        if variant not in med:
            continue
        cells = []
        for attr in ("client_cpu_pct", "host_cpu_pct", "client_pss_mb"):
            for ref in (CM, AX):
                value, base = med[variant].get(attr), med.get(ref, {}).get(attr)
                cells.append(_num(value / base if value is not None and base else None, "7.2f") + "x")
        lines.append(
            f"{LABELS[variant]:<25}  {cells[0]:>16} {cells[1]:>7}   {cells[2]:>14} {cells[3]:>7}  "
            f"{cells[4]:>9} {cells[5]:>7}"
        )
    parts = collections.defaultdict(list)
    for r in counted:
        if r.ok and r.variant == CM:
            for k, v in r.client_parts.items():
                parts[k].append(v)
    if parts:
        lines.append(
            "(a) client CPU by role: " + ", ".join(f"{k} {statistics.median(v):.1f}%" for k, v in parts.items())
        )
    for variant in VARIANTS:
        by_part = collections.defaultdict(list)
        for r in counted:
            if r.ok and r.variant == variant:
                for k, v in r.host_parts.items():
                    by_part[k].append(v)
        if by_part:
            top = sorted(((statistics.median(v), k) for k, v in by_part.items()), reverse=True)[:4]
            lines.append(f"{LABELS[variant]} host CPU by program: " + ", ".join(f"{k} {v:.1f}%" for v, k in top))
    fd = med.get(FD)
    if fd and fd["client_cpu_pct"] is not None:
        others = [x for v in (CM, AX) if (x := med.get(v, {}).get("client_cpu_pct")) is not None]
        hosts = [x for v in (CM, AX) if (x := med.get(v, {}).get("host_cpu_pct")) is not None]
        cpu = fd["client_cpu_pct"]
        verdict = "met" if cpu <= TARGET_CLIENT_PCT and all(cpu < o for o in others) else "NOT met"
        lines.append(
            f"target: fleetdeck client CPU <= {TARGET_CLIENT_PCT:g}% of one core and below (a) and (b): "
            f"{cpu:.2f}% -> {verdict}"
        )
        host = fd["host_cpu_pct"]
        if host is not None:
            verdict = "met" if all(host < o for o in hosts) else "NOT met"
            lines.append(f"target: fleetdeck host-side CPU below (a) and (b): {host:.2f}% -> {verdict}")
    return lines


def run_line(r: RunRecord, label: str | None = None) -> str:
    label = label or f"run {r.round}"
    status = "ok" if r.ok else f"FAILED: {r.problem}"
    teardown = ("> " if r.teardown_killed else "") + _num(r.teardown_s, ".1f")
    return (
        f"  [{label:>7}] {r.variant:<14} client {r.client_cpu_pct:6.2f}%  pss {r.client_pss_mb:6.0f}MB  "
        f"host {r.host_cpu_pct:6.2f}%  {_num(r.samples_per_s, '6.1f')}/s  lag p50 {_num(r.lag_p50_s, '.2f')}s "
        f"p95 {_num(r.lag_p95_s, '.2f')}s  teardown {teardown}s  box {r.box_busy_pct:5.1f}%  "
        f"load {r.load_start} -> {r.load_end}  {status}"
    )


# -- profiling -------------------------------------------------------------------------------------

AREAS: tuple[tuple[str, str], ...] = (
    ("frame parsing (proc_parse, frames)", r"health/(proc_parse|frames)\.py"),
    ("collector + samples", r"health/(collector|sample)\.py"),
    ("asyncssh channel/stream", r"asyncssh/(channel|stream|process)\.py"),
    ("asyncssh crypto + packets", r"asyncssh/(crypto|encryption|mac|packet)|cryptography/|asyncssh/connection\.py"),
    ("asyncssh other", r"asyncssh/"),
    ("asyncio event loop", r"asyncio/|selectors\.py"),
)


def report_cprofile(path: Path, top: int) -> list[str]:
    stats = pstats.Stats(str(path))
    entries = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = sorted(((tt, ct, calls, key) for key, (_cc, calls, tt, ct, _callers) in entries.items()), reverse=True)
    lines = [f"cProfile (event-loop thread CPU, profiler overhead included): {total:.2f}s in the window"]
    lines.append(f"  {'own s':>7} {'cum s':>7} {'calls':>9}  function")
    for tt, ct, calls, (file, line, func) in rows[:top]:
        for marker in ("site-packages/", "src/", "lib/python3.11/"):
            if marker in file:
                file = file.split(marker, 1)[1]
                break
        where = f"{file}:{line}({func})" if file != "~" else func
        lines.append(f"  {tt:7.2f} {ct:7.2f} {calls:9d}  {where}")
    return lines


def report_pyspy(raw: Path, rate: int, top: int) -> list[str]:
    folded = fold_pyspy(raw, AREAS)
    total, own, inclusive, areas = folded.total, folded.own, folded.inclusive, folded.areas
    lines = [f"py-spy (all threads, busy samples only): {total / rate:.2f}s of CPU samples in the window"]
    for area, count in areas.most_common():
        lines.append(f"  {count / rate:6.2f}s  {100 * count / max(total, 1):5.1f}%  {area}")
    lines.append("  top functions by own samples:")
    for frame, count in own.most_common(top):
        lines.append(f"  {100 * count / max(total, 1):5.1f}%  {frame}")
    lines.append("  top fleetdeck functions, inclusive:")
    mine = [(c, f) for f, c in inclusive.items() if "fleetdeck/" in f and "health_clients" not in f]
    for count, frame in sorted(mine, reverse=True)[:top]:
        lines.append(f"  {100 * count / max(total, 1):5.1f}%  {frame}")
    return lines


# -- main ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hosts", "-n", type=int, default=200, help="fleet size (default 200)")
    parser.add_argument("--duration", type=float, default=60.0, help="measured window per run, seconds (default 60)")
    parser.add_argument("--interval", type=float, default=2.0, help="sampling interval, seconds (default 2)")
    parser.add_argument("--runs", type=int, default=3, help="counted runs per variant (default 3)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS, metavar="NAME")
    parser.add_argument("--concurrency", type=int, default=FANOUT, help="(a): ssh clients at once (default 64)")
    parser.add_argument("--settle", type=float, default=4.0, help="seconds between ready and the window (default 4)")
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    parser.add_argument("--pause", type=float, default=2.0, help="quiet seconds before each run (default 2)")
    parser.add_argument("--profile", action="store_true", help="then profile one fleetdeck run (cProfile, py-spy)")
    parser.add_argument("--profile-only", action="store_true", help="only the profiling runs")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--report", type=Path, metavar="JSONL", help="only print the table of an earlier run's records")
    args = parser.parse_args(argv)
    if args.report:
        return report(args.report)
    if args.interval != int(args.interval):
        parser.error("--interval must be whole seconds (the probe's sleep takes whole seconds)")

    RESULTS_DIR.mkdir(exist_ok=True)
    results = RESULTS_DIR / f"health_watch-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    workdir = Path(tempfile.mkdtemp(prefix=f"fleetdeck-health-n{args.hosts}-"))
    workdir.chmod(0o755)
    fleet = SshFleet(workdir, args.hosts, ready_timeout=max(10.0, args.hosts / 20))
    records: list[RunRecord] = []
    print(
        f"health watch bench: N = {args.hosts}, interval {args.interval:g}s, window {args.duration:g}s, "
        f"{0 if args.profile_only else args.runs} runs per variant, round-robin; {os.cpu_count()} CPUs; "
        f"load {loadavg()}"
    )
    print(f"raw records: {results}", flush=True)
    try:
        fleet.start()
        files = write_peer_files(fleet, workdir / "peers")
        print(f"fleet: {fleet.n_shards} sshd shards", flush=True)
        with results.open("w") as out:
            out.write(json.dumps({"type": "meta", "args": vars(args), "loadavg": loadavg()}) + "\n")
            runnable = list(args.variants)
            for round_no in range(1, 0 if args.profile_only else args.runs + 1):
                shift = round_no % len(runnable)
                for variant in runnable[shift:] + runnable[:shift]:
                    wait_children_gone(fleet.pids)
                    time.sleep(args.pause)
                    record = measure_run(variant, round_no, fleet, files, workdir, args)
                    records.append(record)
                    out.write(json.dumps({"type": "run", **asdict(record)}) + "\n")
                    out.flush()
                    print(run_line(record), flush=True)
            profile_lines: list[str] = []
            if args.profile or args.profile_only:
                profile_lines = profile_runs(fleet, files, workdir, args)
        if records:
            print()
            print(LEGEND)
            print("\n".join(render(records, args, args.hosts)))
        if profile_lines:
            print()
            print("\n".join(profile_lines))
        print(f"\nload at end: {loadavg()}; raw records: {results}")
    finally:
        kill_leftovers(str(workdir / "ctl"))
        fleet.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(r.ok for r in records) else 1


LEGEND = (
    "client = the child's process tree; host = the sshd shard trees (sshd, the sessions, the shells and what they "
    "ran); RSS/PSS = peak sum over the client tree; host PSS = the shard trees at the window's end; lag = change on "
    "a host -> its sample in hand; transit = host read -> sample in hand; box = busy CPU of the whole machine "
    "(2 cores = 200%), others' jobs included."
)


def report(path: Path) -> int:
    """Print the table of a results file again (with this version's columns)."""
    records, meta = [], {}
    known = set(RunRecord.__dataclass_fields__)
    for line in path.read_text().splitlines():
        doc = json.loads(line)
        if doc.get("type") == "meta":
            meta = doc
        elif doc.get("type") == "run":
            records.append(RunRecord(**{k: v for k, v in doc.items() if k in known}))
    args = argparse.Namespace(**meta["args"])
    print(f"{path.name}: load at start {meta.get('loadavg')}")
    print(LEGEND)
    print("\n".join(render(records, args, args.hosts)))
    return 0


def profile_runs(fleet: SshFleet, files: PeerFiles, workdir: Path, args: argparse.Namespace) -> list[str]:
    """One fleetdeck run under cProfile, one watched by py-spy; neither counts in the table."""
    lines = ["== profile of the fleetdeck client (uncounted runs)"]
    wait_children_gone(fleet.pids)
    time.sleep(args.pause)
    prof = workdir / "fleetdeck.prof"
    record = measure_run(FD, -1, fleet, files, workdir, args, profile=str(prof))
    lines.append(run_line(record, "cProfile"))
    if prof.exists():
        lines += report_cprofile(prof, args.top)
    pyspy = shutil.which("py-spy", path=f"{BENCH_VENV / 'bin'}:{os.environ.get('PATH', '')}")
    if pyspy:
        wait_children_gone(fleet.pids)
        time.sleep(args.pause)
        raw = workdir / "fleetdeck.pyspy.txt"
        record = measure_run(FD, -2, fleet, files, workdir, args, pyspy=(pyspy, raw))
        lines.append(run_line(record, "py-spy"))
        if raw.exists():
            lines += report_pyspy(raw, 100, args.top)
    else:
        lines.append("py-spy not found: run bench/setup.sh to install it into bench/.venv")
    keep = RESULTS_DIR / "health_watch-profiles"
    keep.mkdir(exist_ok=True)
    for path in (prof, workdir / "fleetdeck.pyspy.txt"):
        if path.exists():
            shutil.copy(path, keep / path.name)
    lines.append(f"raw profiles copied to {keep}")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
