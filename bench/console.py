"""Benchmark: the console itself, a real ``fleetdeck`` process in a pseudo-terminal, watching a real SSH fleet.

One OpenSSH fleet (``tests/fleet.py``: loopback addresses, one sshd shard per 16 hosts) serves every run. Each run
starts the console (``fleetdeck --config DIR``, no subcommand) as a child on a pty of 120x36 with
TERM=xterm-256color, its own config dir (``--config``) and state dir (``FLEETDECK_STATE``). This harness plays the
terminal: one thread reads everything the console writes as soon as it is written, so the console never blocks on a
full pty, and another feeds it to a ``pyte`` screen, timing each effect from the read that brought it; keys are
written to the pty as a terminal would send them.

- idle: ``--hosts`` hosts watched at the console's health interval (its default, 2 s: ``HEALTH_INTERVAL_S``, or
  ``--interval``, written to the config dir's ``console.toml`` as ``health_interval``); the hosts out of sight at
  its ``health_offscreen_interval`` (three intervals, or ``--offscreen``; the interval watches all at full
  pace). Once the dashboard shows
  every host up (sorted by status with waiting hosts first, the top row is up and the title counts no down or
  stale host; then sorted by host again), and ``--settle`` seconds later, the console's CPU (utime+stime from
  /proc/PID/stat, % of one core) is measured over ``--window`` seconds, with its RSS and PSS
  (/proc/PID/smaps_rollup, every 2 s, the peak kept). ``--runs`` runs, each a fresh console; the table shows
  medians.
- flood: ``--flood-hosts`` hosts watched; once they are up, the first host is marked (``space``), ``x`` opens the
  command box (targets: the marked host) and an ad-hoc command printing ``--flood-mb`` MB as fast as it can is
  started. In the run view, ``/`` opens the output search; while the flood streams, letters are typed into it on
  their own clock (a random ``--gap`` apart, about 20 a second; never waiting for the previous one to show, so a
  stall delays every key sent during it). Latency = letter written to the pty -> the first pty read after which
  the emulated screen shows it in the search line (any run of 4 typed letters occurs once, so the line's tail
  tells how far it has got even when it scrolls). ``--after-keys`` more letters follow each flood, the same
  console without the flood, for comparison. While fewer than ``--keys`` letters were sent during floods, Esc
  clears the search and the same console runs the command again (at most ``--max-floods``). Per flood: the
  console's CPU from Enter to the summary's ``done``, its RSS (sampled every 0.25 s, and VmHWM), the summary
  line, and the host's status and bytes in the run store (``fleetdeck history`` afterwards).

The fleet's 500 sshds and their probe shells share this machine's cores with the console, as remote hosts never
would; ``--fleet-nice 19`` gives them only what the console leaves, to tell the console's own latency from the
wait for a CPU (report both). For 10-15 s after the console connects, the sshds take 40-50 % of a core (per
process, sampled every second), then 5-7 %: measuring starts ``--settle`` (20) seconds after all hosts show up,
so a first flood 5 s after start is not a flood on a machine still busy with the fleet's sessions.

Raw records: ``bench/results/console-*.jsonl``. ``--profile`` adds one idle run and one flood under py-spy
(``bench/.venv``), not counted, and prints where the console's CPU goes. Needs ``pyte``: ``bench/setup.sh``
installs it into ``bench/.venv`` (run automatically as root when missing, unless ``--no-setup``).

    .venv/bin/python bench/console.py [--hosts 200] [--flood-hosts 500] [--flood-mb 50] [--window 60] [--runs 3]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import fcntl
import importlib
import json
import os
import random
import re
import resource
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
from measure import CLOCK_TICKS, box_busy_s, fold_pyspy, wait_children_gone
from peers import BENCH_DIR, BENCH_VENV, bench_env

REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO / "tests"))
from fleet import SshFleet  # noqa: E402  (tests/ is not a package)

pyte: Any = None  # the terminal emulator, loaded by main(): see load_pyte


def _import_pyte() -> Any:
    try:
        import pyte as module
    except ImportError:
        return None
    return module


def load_pyte(allow_setup: bool) -> Any:
    """``pyte`` from this interpreter, else from bench/.venv (same Python, pure-Python package); when it is in
    neither, run bench/setup.sh (as root, unless --no-setup) to install it there."""
    module = _import_pyte()
    if module is None:
        site = BENCH_VENV / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
        sys.path.append(str(site))  # last: fleetdeck's own packages win
        module = _import_pyte()
        if module is None and allow_setup and os.geteuid() == 0:
            print(f"pyte missing; running {BENCH_DIR / 'setup.sh'}", flush=True)
            subprocess.run(["bash", str(BENCH_DIR / "setup.sh")], check=False)
            importlib.invalidate_caches()
            module = _import_pyte()
    if module is None:
        raise SystemExit(f"console bench: pyte not found; run {BENCH_DIR / 'setup.sh'} (installs it into bench/.venv)")
    return module


RESULTS_DIR = BENCH_DIR / "results"
COLS, ROWS = 120, 36
TERM = "xterm-256color"
FLOOD_LINE = "a" * 99  # plus the newline: 100 bytes a line
ESCAPE = b"\x1b"
PLACEHOLDER = "search (regex"
TARGET_IDLE_PCT = 5.0
TARGET_P99_MS = 100.0
TARGET_RSS_MB = 200.0
MEM_EVERY_S = 2.0
SAMPLE_EVERY_S = 0.25
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# -- /proc -----------------------------------------------------------------------------------------


def cpu_ticks(pid: int) -> int:
    """utime + stime of one process (all its threads), plus the children it reaped."""
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    fields = stat[stat.rindex(b")") + 2 :].split()
    return sum(int(v) for v in fields[11:15])


def rollup_kb(pid: int) -> tuple[int, int]:
    """(Rss, Pss) in kB from /proc/PID/smaps_rollup."""
    rss = pss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Sampler:
    """A thread noting (time, CPU ticks, RSS kB) of one process every ``every`` seconds."""

    def __init__(self, pid: int, every: float = SAMPLE_EVERY_S) -> None:
        self.pid = pid
        self.every = every
        self.points: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, ValueError, IndexError):
                rss = int(Path(f"/proc/{self.pid}/statm").read_text().split()[1]) * PAGE_KB
                self.points.append((time.perf_counter(), cpu_ticks(self.pid), rss))
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def cpu_pct(self, start: float, end: float) -> float | None:
        """CPU % of one core between the last point at or before ``start`` and the first at or after ``end``."""
        before = [p for p in self.points if p[0] <= start]
        after = [p for p in self.points if p[0] >= end]
        if not before or not after or after[0][0] <= before[-1][0]:
            return None
        a, b = before[-1], after[0]
        return 100 * (b[1] - a[1]) / CLOCK_TICKS / (b[0] - a[0])

    def rss_peak_kb(self, start: float, end: float) -> int:
        return max((p[2] for p in self.points if start <= p[0] <= end), default=0)


# -- the terminal ----------------------------------------------------------------------------------

Pred = Callable[["Terminal"], bool]


def _controlling_tty() -> None:
    """In the child, after setsid: make the pty (its stdin) the controlling terminal, as a terminal would."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """A child process on a pty, its output read continuously into a ``pyte`` screen.

    ``press`` writes keys and waits until a predicate over the screen holds; the time returned is from the write
    to the pty read after which it first held. One thread only reads the pty, stamping each chunk with the time
    it was read; another feeds the chunks to ``pyte`` and runs the predicates under the lock, after every chunk,
    so they must be cheap (look at a few rows). Emulating in Python is far slower than a real terminal: when
    the reading waited for it, the pty filled up during bursts and the console's own writes blocked, so the
    emulator's lag was measured as the console's. Now the pty is drained as fast as a terminal would, and a
    chunk's effect is still timed from when it was read.
    """

    def __init__(self, argv: Sequence[str], env: dict[str, str], cwd: Path, cols: int = COLS, rows: int = ROWS):
        self.cols, self.rows = cols, rows
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_controlling_tty,
        )
        os.close(slave)
        self.master = master
        self.cond = threading.Condition()
        self.bytes_read = 0
        self.closed = False
        self.raw_tail = bytearray()
        self.watches: dict[str, tuple[Pred, float | None]] = {}
        self._waiter: list[Any] | None = None
        self.tracker: KeyTrack | None = None
        self._inbox: collections.deque[tuple[float, bytes] | None] = collections.deque()
        self._inbox_ready = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()
        self._thread.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        """Drain the pty as it fills, each chunk with the time it was read; None marks the end."""
        while True:
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:  # EIO: the child side is closed
                break
            if not data:
                break
            now = time.perf_counter()
            with self._inbox_ready:
                self._inbox.append((now, data))
                self._inbox_ready.notify()
        with self._inbox_ready:
            self._inbox.append(None)
            self._inbox_ready.notify()

    def _pump(self) -> None:
        """Emulate the chunks in order and check what waits on the screen, as of each chunk's read."""
        while True:
            with self._inbox_ready:
                self._inbox_ready.wait_for(lambda: bool(self._inbox))
                item = self._inbox.popleft()
            if item is None:
                break
            now, data = item
            with self.cond:
                self.bytes_read += len(data)
                self.raw_tail += data
                if len(self.raw_tail) > 1 << 16:
                    del self.raw_tail[: len(self.raw_tail) - (1 << 16)]
                self.stream.feed(data)
                for name, (pred, seen) in list(self.watches.items()):
                    if seen is None and pred(self):
                        self.watches[name] = (pred, now)
                if self.tracker is not None:
                    self.tracker.check(self, now)
                waiter = self._waiter
                if waiter is not None and waiter[1] is None and waiter[0](self):
                    waiter[1] = now
                    self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    # screen access (call with the lock held, or from a predicate)

    def row(self, y: int) -> str:
        line = self.screen.buffer[y]
        return "".join(line[x].data for x in range(self.cols))

    def find(self, needle: str) -> int | None:
        for y in range(self.rows):
            if needle in self.row(y):
                return y
        return None

    def text(self) -> str:
        with self.cond:
            return "\n".join(self.row(y).rstrip() for y in range(self.rows))

    def holds(self, pred: Pred) -> bool:
        with self.cond:
            return pred(self)

    # waiting and typing

    def wait_for(self, pred: Pred, timeout: float) -> float | None:
        """Wait until ``pred`` holds; the perf_counter time of the read that made it so (now if it already did)."""
        with self.cond:
            if pred(self):
                return time.perf_counter()
            box: list[Any] = [pred, None]
            self._waiter = box
            self.cond.wait_for(lambda: box[1] is not None or self.closed, timeout)
            self._waiter = None
            return box[1]

    def press(self, keys: bytes, pred: Pred, timeout: float) -> float | None:
        """Write ``keys`` and wait for ``pred`` (which must not hold yet); seconds from the write, None on timeout."""
        with self.cond:
            if pred(self):
                raise RuntimeError(f"the effect of {keys!r} is on screen before the key was sent")
            box: list[Any] = [pred, None]
            self._waiter = box
            sent = time.perf_counter()
            os.write(self.master, keys)
            self.cond.wait_for(lambda: box[1] is not None or self.closed, timeout)
            self._waiter = None
            return None if box[1] is None else box[1] - sent

    def type(self, text: str | bytes) -> None:
        os.write(self.master, text.encode() if isinstance(text, str) else text)

    def watch(self, name: str, pred: Pred) -> None:
        """Note the time ``pred`` first holds, from now on (``seen``)."""
        with self.cond:
            self.watches[name] = (pred, time.perf_counter() if pred(self) else None)

    def seen(self, name: str) -> float | None:
        with self.cond:
            return self.watches[name][1]

    def finish(self, timeout: float) -> int | None:
        """Wait for the child to exit, then SIGTERM and SIGKILL its group; its exit code if it exited by itself."""
        code: int | None = None
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._reader.join(5)
        self._thread.join(5)
        with contextlib.suppress(OSError):
            os.close(self.master)
        return code


# -- what the console shows ------------------------------------------------------------------------

WAITING, STALE, DOWN = "○", "◌", "✗"  # an up host's dot depends on its level (●, or another shape)
MARK = "✓"
_BAD_TITLE = re.compile(r"\d+ (down|stale)")


def header_y(t: Terminal) -> int | None:
    """The fleet table's header row."""
    for y in range(t.rows):
        r = t.row(y)
        if all(word in r for word in ("host", "cpu", "mem", "disk", "load")):
            return y
    return None


def dashboard_shown(n: int) -> Pred:
    return lambda t: header_y(t) is not None and t.find(f"hosts {n}") is not None


def sorted_by_status(ascending: bool) -> Pred:
    def pred(t: Terminal) -> bool:
        y = header_y(t)
        if y is None:
            return False
        r = t.row(y)
        return ("▲" if ascending else "▼") in r[: r.index("host")]

    return pred


def sorted_by_host(t: Terminal) -> bool:
    """No arrow in the header (the host column's is cut off when names are short; the others show theirs)."""
    y = header_y(t)
    return y is not None and "▲" not in t.row(y) and "▼" not in t.row(y)


def all_up(n: int, *, stale_ok: bool = False) -> Pred:
    """Sorted by status, waiting hosts first: the top row is not waiting (so no row is), and the title counts no
    down or stale host (or, with ``stale_ok``, no down host)."""
    bad = re.compile(r"\d+ down") if stale_ok else _BAD_TITLE
    not_up = ("", WAITING, DOWN) if stale_ok else ("", WAITING, DOWN, STALE)

    def pred(t: Terminal) -> bool:
        y = header_y(t)
        title = t.find(f"hosts {n}")
        if y is None or title is None or y + 1 >= t.rows:
            return False
        status = t.row(y + 1)[1:10].replace(MARK, "").strip()[:1]
        return status not in not_up and not bad.search(t.row(title))

    return pred


def title_clean(n: int) -> Pred:
    """The dashboard's title counts no down or stale host."""

    def pred(t: Terminal) -> bool:
        y = t.find(f"hosts {n}")
        return y is not None and not _BAD_TITLE.search(t.row(y))

    return pred


def wait_fleet_up(term: Terminal, n: int, timeout: float) -> tuple[float | None, str | None, str | None]:
    """From the console's start to every host up on the dashboard, left sorted by host; (seconds, problem, note).

    Hosts that keep flickering stale (samples late on a busy machine) are tolerated after ``timeout``, with a note;
    a host never sampled or down is a problem.
    """
    start = time.perf_counter()
    if term.wait_for(dashboard_shown(n), 90) is None:
        return None, f"the dashboard with {n} hosts never showed", None
    if term.press(b"s", sorted_by_status(False), 10) is None:
        return None, "s did not sort by status", None
    if term.press(b"S", sorted_by_status(True), 10) is None:
        return None, "S did not reverse the sort", None
    note = None
    seen = term.wait_for(all_up(n), timeout)
    if seen is None:
        if not term.holds(all_up(n, stale_ok=True)):
            return None, f"not every host up after {timeout:.0f}s", None
        seen = time.perf_counter()
        with term.cond:
            title = term.row(term.find(f"hosts {n}") or 0).strip(" │╭╮─")
        note = f"some hosts still stale after {timeout:.0f}s: {title}"
    if term.press(b"s" * (9 - 1), sorted_by_host, 10) is None:
        return None, "the sort did not come back to host", note
    return seen - start, None, note


# -- runs ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class IdleRecord:
    round: int
    hosts: int
    ok: bool = False
    load_start: str = ""
    load_end: str = ""
    ready_s: float | None = None
    window_s: float = 0.0
    cpu_pct: float | None = None
    rss_mb: float | None = None  # peak of the samples in the window
    pss_mb: float | None = None
    hwm_mb: float | None = None  # VmHWM at the window's end
    tty_kb_s: float | None = None  # what the console wrote to the terminal
    harness_cpu_pct: float | None = None  # this process: reading the pty and emulating the screen
    box_busy_pct: float | None = None
    exit_code: int | None = None
    problem: str | None = None
    note: str | None = None
    screen_end: str = ""


@dataclass(slots=True)
class FloodRecord:
    round: int
    index: int  # flood number within the console
    hosts: int
    flood_bytes: int
    ok: bool = False
    load_start: str = ""
    ready_s: float | None = None
    duration_s: float | None = None  # Enter -> the summary says done
    cpu_pct: float | None = None
    rss_peak_mb: float | None = None  # sampled every 0.25 s during the flood
    hwm_mb: float | None = None  # VmHWM after the flood
    pss_end_mb: float | None = None
    harness_cpu_pct: float | None = None
    box_busy_pct: float | None = None
    tty_kb_s: float | None = None
    summary: str = ""
    summary_ok: bool = False
    stored_bytes: int | None = None
    stored_status: str | None = None
    keys: int = 0  # sent while the flood ran
    missed: int = 0  # no effect within --key-timeout
    latencies_ms: list[float] = field(default_factory=list)  # keys sent while the flood ran
    after_ms: list[float] = field(default_factory=list)  # keys sent after it ended (not counted)
    started_at: float | None = None  # wall clock (epoch seconds) at Enter, to line the flood up with other logs
    sent_at: list[float] = field(default_factory=list)  # wall clock at each key counted in latencies_ms
    problem: str | None = None
    note: str | None = None


def console_env(state_dir: Path, workdir: Path) -> dict[str, str]:
    env = bench_env(
        {
            "TERM": TERM,
            "FLEETDECK_STATE": str(state_dir),
            "XDG_STATE_HOME": str(workdir / "xdg-state"),
            "XDG_CONFIG_HOME": str(workdir / "xdg-config"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }
    )
    for name in ("COLUMNS", "LINES", "NO_COLOR", "FLEETDECK_CONFIG", "TMUX", "STY"):
        env.pop(name, None)
    for name in [k for k in env if k.startswith("TEXTUAL")]:
        env.pop(name)
    return env


def fleetdeck_bin() -> str:
    return str(Path(sys.executable).parent / "fleetdeck")


def start_console(config_dir: Path, state_dir: Path, workdir: Path) -> Terminal:
    state_dir.mkdir(parents=True, exist_ok=True)
    argv = [fleetdeck_bin(), "--config", str(config_dir)]
    return Terminal(argv, console_env(state_dir, workdir), workdir)


def quit_console(term: Terminal) -> int | None:
    """Back out to the dashboard and press q; the exit code, or None if it had to be killed."""
    if term.proc.poll() is None:
        for _ in range(3):
            if term.holds(lambda t: header_y(t) is not None):
                break
            term.type(ESCAPE)
            time.sleep(0.5)
        term.type(b"q")
    return term.finish(30)


def start_spy(pid: int, out: Path, duration: float | None) -> subprocess.Popen[bytes] | None:
    pyspy = shutil.which("py-spy", path=f"{BENCH_VENV / 'bin'}:{os.environ.get('PATH', '')}")
    if pyspy is None:
        return None
    argv = [pyspy, "record", "--pid", str(pid), "--rate", "100", "--nonblocking", "--format", "raw", "-o", str(out)]
    if duration is not None:
        argv += ["--duration", str(int(duration))]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_spy(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is None:
        return
    if spy.poll() is None:
        spy.send_signal(signal.SIGINT)
    try:
        spy.wait(30)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()


def measure_idle(
    round_no: int, config_dir: Path, n: int, workdir: Path, args: argparse.Namespace, *, spy_out: Path | None = None
) -> IdleRecord:
    record = IdleRecord(round_no, n, load_start=loadavg())
    state = workdir / f"state-idle-{round_no}"
    term = start_console(config_dir, state, workdir)
    problems: list[str] = []
    try:
        record.ready_s, problem, record.note = wait_fleet_up(term, n, args.ready_timeout)
        if problem:
            problems.append(problem)
            return record
        time.sleep(args.settle)
        pid = term.pid
        spy = start_spy(pid, spy_out, args.window) if spy_out is not None else None
        ticks0, t0, tty0, me0, box0 = cpu_ticks(pid), time.perf_counter(), term.bytes_read, self_cpu_s(), box_busy_s()
        rss_peak = pss_peak = 0
        while (left := t0 + args.window - time.perf_counter()) > 0:
            time.sleep(min(MEM_EVERY_S, left))
            if left > MEM_EVERY_S / 2:
                rss, pss = rollup_kb(pid)
                rss_peak, pss_peak = max(rss_peak, rss), max(pss_peak, pss)
        ticks1, t1, tty1, me1, box1 = cpu_ticks(pid), time.perf_counter(), term.bytes_read, self_cpu_s(), box_busy_s()
        stop_spy(spy)
        window = t1 - t0
        record.window_s = window
        record.cpu_pct = 100 * (ticks1 - ticks0) / CLOCK_TICKS / window
        record.rss_mb, record.pss_mb = rss_peak / 1024, pss_peak / 1024
        record.hwm_mb = status_kb(pid, "VmHWM") / 1024
        record.tty_kb_s = (tty1 - tty0) / 1024 / window
        record.harness_cpu_pct = 100 * (me1 - me0) / window
        record.box_busy_pct = 100 * (box1 - box0) / window
        record.load_end = loadavg()
        if not term.holds(title_clean(n)):
            record.note = "; ".join(p for p in (record.note, "a host was down or stale at the window's end") if p)
    finally:
        record.screen_end = term.text() if term.proc.poll() is None else ""
        if term.proc.poll() is not None and not problems:
            problems.append(f"the console exited ({term.proc.returncode}) during the run")
        record.exit_code = quit_console(term)
        if record.exit_code != 0 and not problems:
            problems.append(f"console exit code {record.exit_code}")
        if problems:
            tail = term.raw_tail[-400:].decode(errors="replace")
            record.problem = "; ".join(problems)
            if not record.screen_end:
                record.screen_end = tail
        record.ok = not problems
    return record


# flood ---------------------------------------------------------------------------------------------

GRAM = 4
KEY_ALPHABET = "bcdefghijklmnopqrstuvwxyz"  # no "a" (the flood's text) and nothing a regex treats specially


def key_text(length: int, rng: random.Random) -> str:
    """Letters in which every run of ``GRAM`` letters occurs once, so a few typed letters tell where typing is."""
    while True:
        text, grams = [], set()
        for _ in range(length):
            for _attempt in range(50):
                ch = rng.choice(KEY_ALPHABET)
                gram = "".join(text[-(GRAM - 1) :]) + ch
                if len(gram) < GRAM or gram not in grams:
                    break
            else:
                break
            text.append(ch)
            if len(gram) == GRAM:
                grams.add(gram)
        if len(text) == length:
            return "".join(text)


class KeyTrack:
    """Letters typed one by one into an input line, each seen once the line shows it typed (or a later one).

    Keys are sent on their own clock, not after the previous one showed, so a stall delays every key sent
    during it and each is measured from its own write. The line's text (up to the cursor) ends with the last
    ``GRAM`` letters typed, which identify how many letters it shows even when it scrolls sideways.
    """

    def __init__(self, text: str, y: int, x0: int, x1: int) -> None:
        self.text, self.y, self.x0, self.x1 = text, y, x0, x1
        self.ends = {text[i - GRAM : i]: i for i in range(GRAM, len(text) + 1)}
        self.sent: list[float] = []
        self.seen: list[float | None] = []
        self.pending = 0  # first key not seen yet

    def shown(self, content: str) -> int | None:
        """How many letters of ``text`` the line shows typed; None if it shows something else."""
        if len(content) < GRAM:
            return len(content) if content and self.text.startswith(content) else None
        end = self.ends.get(content[-GRAM:])
        if end is None or not self.text[:end].endswith(content):
            return None
        return end

    def check(self, t: Terminal, now: float) -> None:
        if self.pending >= len(self.sent):
            return
        shown = self.shown(t.row(self.y)[self.x0 : self.x1].rstrip())
        if shown is None:
            return
        upto = min(shown, len(self.sent))
        for i in range(self.pending, upto):
            self.seen[i] = now
        self.pending = max(self.pending, upto)

    def all_seen(self, _t: Terminal | None = None) -> bool:
        return self.pending >= len(self.sent)


def flood_command(n_bytes: int) -> str:
    return f"yes {FLOOD_LINE} | head -c {n_bytes}"


@dataclass(slots=True)
class RunView:
    summary_y: int
    search_y: int = -1
    search_x0: int = -1
    search_x1: int = -1


def summary_row(t: Terminal) -> int | None:
    for y in range(t.rows):
        r = t.row(y)
        if "batch " in r and "queued" in r and " ok " in f" {r} ":
            return y
    return None


_RUN_TITLE = re.compile(r"^\s*run (\d{8}-\d{6}-\w+) ")


def run_id(t: Terminal) -> str | None:
    """The id of the run the run view shows, from its title line."""
    for y in range(t.rows):
        match = _RUN_TITLE.match(t.row(y))
        if match:
            return match.group(1)
    return None


def start_flood(term: Terminal, host: str, n_bytes: int, earlier: set[str], timeout: float) -> tuple[float, RunView]:
    """Open the command box, type the flood on ``host``, press Enter and open the output search.

    Returns the time of Enter and where the summary and the search line are; adds the run's id to ``earlier``.
    """
    first = not earlier
    if first:
        # Mark the host on the dashboard: the command box starts with the marked hosts as its targets.
        def marked(t: Terminal) -> bool:
            y = header_y(t)
            return y is not None and MARK in t.row(y + 1)[:8] and host in t.row(y + 1)

        if term.press(b" ", marked, timeout) is None:
            raise RuntimeError(f"space did not mark {host} (the top row)")
    matched = f"1 host: {host}"
    if term.press(b"x", lambda t: t.find("Run a command") is not None and t.find(matched) is not None, timeout) is None:
        raise RuntimeError(f"x did not open the command box on {host}")
    term.type(flood_command(n_bytes))

    def run_shown(t: Terminal) -> bool:
        if t.find("Run a command") is not None or summary_row(t) is None:
            return False
        shown = run_id(t)  # a later flood switches the run view to the new run
        return shown is not None and shown not in earlier

    enter = time.perf_counter()
    if term.press(b"\r", run_shown, timeout) is None:
        raise RuntimeError("Enter did not show the run")
    with term.cond:
        y = summary_row(term)
        earlier.add(run_id(term) or "")
    assert y is not None
    view = RunView(y)
    if term.press(b"/", lambda t: t.find(PLACEHOLDER) is not None, timeout) is None:
        raise RuntimeError("/ did not open the output search")
    with term.cond:
        view.search_y = term.find(PLACEHOLDER) or 0
        line = term.row(view.search_y)
        view.search_x0 = line.index(PLACEHOLDER)
        right = line.find("▎", view.search_x0)
        view.search_x1 = right if right > 0 else len(line.rstrip(" │"))
    return enter, view


def measure_flood(
    round_no: int,
    config_dir: Path,
    n: int,
    host: str,
    workdir: Path,
    args: argparse.Namespace,
    *,
    spy_out: Path | None = None,
) -> list[FloodRecord]:
    """One console, one or more floods until ``--keys`` keypresses were measured while a flood ran."""
    n_bytes = int(args.flood_mb * 1_000_000)
    records: list[FloodRecord] = []
    state = workdir / f"state-flood-{round_no}"
    load_start = loadavg()
    term = start_console(config_dir, state, workdir)
    rng = random.Random(round_no)
    gap_lo, gap_hi = args.gap
    sampler: Sampler | None = None
    spy = None
    try:
        ready_s, problem, note = wait_fleet_up(term, n, args.ready_timeout)
        if problem:
            records.append(FloodRecord(round_no, 1, n, n_bytes, load_start=load_start, problem=problem))
            return records
        time.sleep(args.settle)
        sampler = Sampler(term.pid)
        total_keys = 0
        runs: set[str] = set()
        for index in range(1, args.max_floods + 1):
            record = FloodRecord(round_no, index, n, n_bytes, load_start=load_start if index == 1 else loadavg())
            record.ready_s = ready_s if index == 1 else None
            record.note = note if index == 1 else None
            records.append(record)
            if spy_out is not None and index == 1:  # the first flood only, from the command box on
                spy = start_spy(term.pid, spy_out, None)
                time.sleep(1.0)  # py-spy attaching
            me0, box0 = self_cpu_s(), box_busy_s()
            try:
                enter, view = start_flood(term, host, n_bytes, runs, args.key_timeout * 2)
            except RuntimeError as exc:
                record.problem = f"{exc}; screen:\n{term.text()}"
                break
            tty0 = term.bytes_read
            done = f"done-{index}"
            sy = view.summary_y
            term.watch(done, lambda t, sy=sy: "done in" in t.row(sy) or "halted" in t.row(sy))
            track = KeyTrack(key_text(args.max_keys, rng), view.search_y, view.search_x0, view.search_x1)
            with term.cond:
                term.tracker = track
            deadline = enter + args.flood_timeout
            next_at = time.perf_counter()
            after = 0  # keys sent once the flood was over: the same console without the flood
            while len(track.sent) < len(track.text):
                now = time.perf_counter()
                over = term.seen(done) is not None
                if (over and after >= args.after_keys) or now > deadline or term.proc.poll() is not None:
                    break
                if now < next_at:
                    time.sleep(min(next_at - now, 0.05))
                    continue
                with term.cond:
                    track.sent.append(time.perf_counter())
                    track.seen.append(None)
                    os.write(term.master, track.text[len(track.sent) - 1].encode())
                after += over
                next_at = time.perf_counter() + rng.uniform(gap_lo, gap_hi)
            done_at = term.seen(done)
            end = done_at if done_at is not None else time.perf_counter()
            term.wait_for(track.all_seen, args.key_timeout)
            stop_spy(spy)
            spy = None
            with term.cond:
                term.tracker = None
            for sent, seen in zip(track.sent, track.seen, strict=True):
                in_flood = done_at is None or sent < done_at
                if seen is None:
                    record.missed += in_flood
                else:
                    (record.latencies_ms if in_flood else record.after_ms).append((seen - sent) * 1000)
            record.keys = len(record.latencies_ms) + record.missed
            total_keys += record.keys
            record.duration_s = end - enter
            record.started_at = time.time() - (time.perf_counter() - enter)
            record.sent_at = [
                record.started_at + (sent - enter)
                for sent, seen in zip(track.sent, track.seen, strict=True)
                if seen is not None and (done_at is None or sent < done_at)
            ]
            record.tty_kb_s = (term.bytes_read - tty0) / 1024 / max(record.duration_s, 1e-9)
            me1, box1 = self_cpu_s(), box_busy_s()
            time.sleep(2 * SAMPLE_EVERY_S)  # a sampler point after the end
            record.cpu_pct = sampler.cpu_pct(enter, end)
            record.rss_peak_mb = sampler.rss_peak_kb(enter, end + SAMPLE_EVERY_S) / 1024
            wall = time.perf_counter() - enter
            record.harness_cpu_pct = 100 * (me1 - me0) / wall
            record.box_busy_pct = 100 * (box1 - box0) / wall
            with contextlib.suppress(OSError):
                record.hwm_mb = status_kb(term.pid, "VmHWM") / 1024
                record.pss_end_mb = rollup_kb(term.pid)[1] / 1024
            with term.cond:
                record.summary = term.row(sy).strip()
            record.summary_ok = bool(re.search(r"\bok 1\b", record.summary)) and "done in" in record.summary
            problems = []
            if done_at is None:
                problems.append(f"the flood did not finish within {args.flood_timeout:.0f}s")
            elif not record.summary_ok:
                problems.append(f"summary: {record.summary}")
            record.ok = not problems
            if record.missed:  # reported, and counted in the percentiles as --key-timeout
                problems.append(f"{record.missed} keys without effect within {args.key_timeout:g}s")
            record.problem = "; ".join(problems) or None
            if done_at is None or total_keys >= args.keys:
                break
            # Esc closes (and clears) the search before the next flood
            x0, x1 = view.search_x0, view.search_x1

            def closed(t: Terminal, y: int = view.search_y, x0: int = x0, x1: int = x1) -> bool:
                return set(t.row(y)[x0:x1]) <= {"a", " "}

            if term.press(ESCAPE, closed, args.key_timeout * 2) is None:
                record.problem = "; ".join(p for p in (record.problem, "Esc did not close the search") if p)
                record.ok = False
                break
    finally:
        stop_spy(spy)
        if sampler is not None:
            sampler.stop()
        exit_code = quit_console(term)
        for record in records:
            if exit_code != 0:
                record.problem = "; ".join(p for p in (record.problem, f"console exit code {exit_code}") if p)
                record.ok = False
    stored = stored_results(config_dir, state)
    for record, (status, nbytes) in zip(records, stored, strict=False):
        record.stored_status, record.stored_bytes = status, nbytes
        if nbytes != n_bytes or status != "ok":
            record.ok = False
            record.problem = "; ".join(
                p for p in (record.problem, f"store: status {status}, {nbytes} bytes of {n_bytes}") if p
            )
    return records


def stored_results(config_dir: Path, state: Path) -> list[tuple[str | None, int | None]]:
    """(host status, stdout bytes) of every run in the state dir's store, oldest first."""
    env = {**bench_env(), "FLEETDECK_STATE": str(state)}
    base = [fleetdeck_bin(), "--config", str(config_dir), "history"]
    listing = subprocess.run([*base, "--json"], capture_output=True, text=True, env=env, check=False)
    try:
        runs = json.loads(listing.stdout)
    except json.JSONDecodeError:
        return []
    found: list[tuple[str | None, int | None]] = []
    for run in reversed(runs):
        shown = subprocess.run([*base, str(run["id"]), "--json"], capture_output=True, text=True, env=env, check=False)
        try:
            hosts = json.loads(shown.stdout)["hosts"]
        except (json.JSONDecodeError, KeyError):
            found.append((None, None))
            continue
        host = hosts[0] if hosts else {}
        found.append((host.get("status"), host.get("bytes_out")))
    return found


# -- reporting -------------------------------------------------------------------------------------


def pctl(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (nearest rank) of values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def idle_line(r: IdleRecord) -> str:
    status = "ok" if r.ok else f"FAILED: {r.problem}"
    return (
        f"  [idle {r.round:>2}] load {r.load_start}  ready {_num(r.ready_s, '.1f')}s  CPU {_num(r.cpu_pct, '.2f')}%  "
        f"RSS {_num(r.rss_mb, '.0f')}MB  PSS {_num(r.pss_mb, '.0f')}MB  tty {_num(r.tty_kb_s, '.1f')}KB/s  "
        f"term side {_num(r.harness_cpu_pct, '.1f')}%  box {_num(r.box_busy_pct, '.0f')}%  {status}"
        + (f" ({r.note})" if r.note else "")
    )


def flood_line(r: FloodRecord) -> str:
    status = "ok" if r.ok else f"FAILED: {r.problem}"
    lat = r.latencies_ms
    mb_s = r.flood_bytes / 1e6 / r.duration_s if r.duration_s else None
    return (
        f"  [flood {r.round}.{r.index}] load {r.load_start}  ready {_num(r.ready_s, '.1f')}s  "
        f"{r.flood_bytes / 1e6:.0f}MB in {_num(r.duration_s, '.1f')}s ({_num(mb_s, '.1f')}MB/s)  "
        f"CPU {_num(r.cpu_pct, '.0f')}%  RSS peak {_num(r.rss_peak_mb, '.0f')}MB (HWM {_num(r.hwm_mb, '.0f')})  "
        f"keys {len(lat)} p50 {_num(pctl(lat, 50), '.0f')}ms p99 {_num(pctl(lat, 99), '.0f')}ms "
        f"max {_num(max(lat, default=None), '.0f')}ms missed {r.missed}, after: {len(r.after_ms)} keys "
        f"p50 {_num(pctl(r.after_ms, 50), '.0f')}ms  tty {_num(r.tty_kb_s, '.0f')}KB/s  "
        f"term side {_num(r.harness_cpu_pct, '.0f')}%  box {_num(r.box_busy_pct, '.0f')}%\n"
        f"      summary: {r.summary or '-'}  store: {r.stored_status} {r.stored_bytes} bytes  {status}"
        + (f" ({r.note})" if r.note else "")
    )


def render(idle: Sequence[IdleRecord], floods: Sequence[FloodRecord], args: argparse.Namespace) -> list[str]:
    counted_idle = [r for r in idle if r.round > 0]
    ok_idle = [r for r in counted_idle if r.ok]
    counted_floods = [r for r in floods if r.round > 0]
    lat = [v for r in counted_floods for v in r.latencies_ms]
    missed = sum(r.missed for r in counted_floods)
    # a key without effect counts as slower than any that had one
    lat_all = lat + [args.key_timeout * 1000] * missed
    after = [v for r in counted_floods for v in r.after_ms]

    def med(attr: str) -> float | None:
        values = [getattr(r, attr) for r in ok_idle if getattr(r, attr) is not None]
        return statistics.median(values) if values else None

    idle_cpu, idle_rss, idle_pss = med("cpu_pct"), med("rss_mb"), med("pss_mb")
    p50, p99 = pctl(lat_all, 50), pctl(lat_all, 99)
    flood_rss = max((r.hwm_mb for r in counted_floods if r.hwm_mb is not None), default=None)
    flood_cpu = [r.cpu_pct for r in counted_floods if r.cpu_pct is not None]
    completed = [r for r in counted_floods if r.summary_ok and r.stored_bytes == r.flood_bytes]

    def verdict(value: float | None, ok: Callable[[float], bool]) -> str:
        return "-" if value is None else "met" if ok(value) else "NOT met"

    rows = [
        (f"idle CPU, % of one core (median of {len(ok_idle)}/{len(counted_idle)} runs)",
         _num(idle_cpu, ".2f"), f"<= {TARGET_IDLE_PCT:g}", verdict(idle_cpu, lambda v: v <= TARGET_IDLE_PCT)),
        ("idle RSS MB (window peak, median)", _num(idle_rss, ".0f"), f"< {TARGET_RSS_MB:g}",
         verdict(idle_rss, lambda v: v < TARGET_RSS_MB)),
        ("idle PSS MB (window peak, median)", _num(idle_pss, ".0f"), "", ""),
        (f"key latency p50 ms ({len(lat)} keys{f', {missed} missed' if missed else ''})", _num(p50, ".1f"), "", ""),
        ("key latency p99 ms", _num(p99, ".1f"), f"< {TARGET_P99_MS:g}", verdict(p99, lambda v: v < TARGET_P99_MS)),
        (f"  same console after the floods: p50 / p99 ms ({len(after)} keys)",
         f"{_num(pctl(after, 50), '.0f')} / {_num(pctl(after, 99), '.0f')}", "", ""),
        ("flood peak RSS MB (VmHWM, max over floods)", _num(flood_rss, ".0f"), f"< {TARGET_RSS_MB:g}",
         verdict(flood_rss, lambda v: v < TARGET_RSS_MB)),
        ("flood CPU, % of one core (median)", _num(statistics.median(flood_cpu) if flood_cpu else None, ".0f"), "", ""),
        ("floods completed (summary ok 1, all bytes stored)", f"{len(completed)}/{len(counted_floods)}", "all",
         "met" if counted_floods and len(completed) == len(counted_floods) else "NOT met"),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    lines = [
        f"console: idle {args.hosts} hosts, flood {args.flood_hosts} hosts + {args.flood_mb:g} MB on one host; "
        f"{COLS}x{ROWS} {TERM}; health interval {args.interval:g}s, out of sight "
        f"{'3 intervals' if args.offscreen is None else format(args.offscreen, 'g') + 's'}; "
        f"idle window {args.window:g}s" + (f"; fleet at nice {args.fleet_nice}" if args.fleet_nice else ""),
        f"{'metric':<{width}}  {'value':>8}  {'target':>7}  verdict",
        "-" * (width + 30),
    ]
    lines += [f"{name:<{width}}  {value:>8}  {target:>7}  {v}" for name, value, target, v in rows]
    loads = [f"idle {r.round}: {r.load_start}" for r in counted_idle]
    loads += [f"flood {r.round}.{r.index}: {r.load_start}" for r in counted_floods]
    lines.append("load average (1/5/15 min) at run starts: " + "; ".join(loads))
    return lines


# -- profiling -------------------------------------------------------------------------------------

AREAS: tuple[tuple[str, str], ...] = (
    ("fleetdeck ui (screens, widgets, bridge)", r"fleetdeck/ui/"),
    ("fleetdeck health (collector, parsing, board)", r"fleetdeck/core/health/"),
    ("fleetdeck runner/store", r"fleetdeck/core/(runner|store)"),
    ("textual compositor + render", r"textual/(_compositor|_segment_tools|strip|_styles_cache|render|_border)"),
    ("textual widgets (DataTable, Input, ...)", r"textual/widgets/"),
    ("textual css/styles/layout", r"textual/(css/|_layout|layouts/|_arrange|_resolve|box_model|geometry)"),
    ("textual other (message pump, app, driver)", r"textual/"),
    ("rich", r"rich/"),
    ("asyncssh + crypto", r"asyncssh/|cryptography/"),
    ("asyncio event loop", r"asyncio/|selectors\.py"),
)


def report_pyspy(raw: Path, title: str, top: int, rate: int = 100) -> list[str]:
    folded = fold_pyspy(raw, AREAS)
    total, own, inclusive, areas = folded.total, folded.own, folded.inclusive, folded.areas
    lines = [f"py-spy, {title}: {total / rate:.2f}s of busy samples (all threads)"]
    lines.append("  by area (innermost frame that matches):")
    for area, count in areas.most_common():
        lines.append(f"    {count / rate:6.2f}s  {100 * count / max(total, 1):5.1f}%  {area}")
    lines.append("  top functions by own samples:")
    for frame, count in own.most_common(top):
        lines.append(f"    {100 * count / max(total, 1):5.1f}%  {frame}")
    lines.append("  top functions, inclusive (below the event loop's own frames):")
    shallow = [(c, f) for f, c in inclusive.items() if c < 0.6 * total]
    for count, frame in sorted(shallow, reverse=True)[:top]:
        lines.append(f"    {100 * count / max(total, 1):5.1f}%  {frame}")
    lines.append("  top fleetdeck functions, inclusive:")
    mine = [(c, f) for f, c in inclusive.items() if "fleetdeck/" in f]
    for count, frame in sorted(mine, reverse=True)[:top]:
        lines.append(f"    {100 * count / max(total, 1):5.1f}%  {frame}")
    return lines


# -- main ------------------------------------------------------------------------------------------


def write_config(
    fleet: SshFleet, out: Path, n: int, interval: float | None = None, offscreen: float | None = None
) -> Path:
    """A config dir for the first ``n`` hosts of the fleet (and ``console.toml`` when an interval is set)."""
    out.mkdir(parents=True, exist_ok=True)
    settings = f'health_interval = "{interval:g}s"\n' if interval is not None else ""
    settings += f'health_offscreen_interval = "{offscreen:g}s"\n' if offscreen is not None else ""
    if settings:
        (out / "console.toml").write_text(settings)
    doc = tomllib.loads(fleet.hosts_toml.read_text())
    names = [name for name, _ in fleet.hosts[:n]]
    doc["hosts"] = {name: doc["hosts"][name] for name in names}
    (out / "hosts.toml").write_text(tomli_w.dumps(doc))
    (out / "tasks.toml").touch()
    check = subprocess.run(
        [fleetdeck_bin(), "--config", str(out), "check"], capture_output=True, text=True, env=bench_env(), check=False
    )
    if check.returncode != 0:
        raise SystemExit(f"console bench: config {out} does not check:\n{check.stdout}{check.stderr}")
    return out


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def console_interval() -> float:
    """The console's default health interval (``console.toml`` has none here unless ``--interval``)."""
    from fleetdeck.ui.context import HEALTH_INTERVAL_S

    return HEALTH_INTERVAL_S


def _gap(text: str) -> tuple[float, float]:
    lo, _, hi = text.partition(",")
    return float(lo), float(hi or lo)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hosts", type=int, default=200, help="hosts watched in the idle runs (default 200)")
    parser.add_argument("--flood-hosts", type=int, default=500, help="hosts watched during the flood (default 500)")
    parser.add_argument("--flood-mb", type=float, default=50.0, help="MB the flood command prints (default 50)")
    parser.add_argument(
        "--interval",
        type=float,
        default=None,
        metavar="S",
        help="health interval in seconds, via console.toml (default: the console's own, 2 s)",
    )
    parser.add_argument(
        "--offscreen",
        type=float,
        default=None,
        metavar="S",
        help="health_offscreen_interval in seconds, via console.toml: hosts out of sight are sampled this often "
        "(default: the console's own, three health intervals; the health interval watches all at full pace)",
    )
    parser.add_argument(
        "--fleet-nice",
        type=int,
        default=0,
        metavar="N",
        help="run the fleet's sshds (and so their shells) at this nice level: remote hosts take no CPU from the "
        "console, the loopback fleet shares its cores (default 0, same priority)",
    )
    parser.add_argument("--window", type=float, default=60.0, help="idle CPU window per run, seconds (default 60)")
    parser.add_argument("--runs", type=int, default=3, help="idle runs, each a fresh console (default 3)")
    parser.add_argument("--flood-runs", type=int, default=1, help="flood consoles (default 1)")
    parser.add_argument("--keys", type=int, default=200, help="keypresses to measure during floods (default 200)")
    parser.add_argument("--max-floods", type=int, default=16, help="floods per console at most (default 16)")
    parser.add_argument("--max-keys", type=int, default=3000, help="keys per flood at most (default 3000)")
    parser.add_argument("--gap", type=_gap, default=(0.03, 0.07), metavar="LO,HI",
                        help="random time between two keys, s (default 0.03,0.07: 20 keys/s)")  # fmt: skip
    parser.add_argument("--after-keys", type=int, default=20,
                        help="keys sent after each flood, for comparison (default 20)")  # fmt: skip
    parser.add_argument("--key-timeout", type=float, default=5.0, help="a key without effect by then is missed")
    parser.add_argument("--flood-timeout", type=float, default=900.0, help="longest a flood may take, s")
    parser.add_argument(
        "--settle", type=float, default=20.0, help="seconds between all hosts up and measuring (default 20)"
    )
    parser.add_argument("--ready-timeout", type=float, default=180.0, help="longest to wait for every host up, s")
    parser.add_argument("--skip-idle", action="store_true")
    parser.add_argument("--skip-flood", action="store_true")
    parser.add_argument("--profile", action="store_true", help="then one idle run and one flood under py-spy")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--no-setup", action="store_true", help="never run setup.sh when pyte is missing")
    args = parser.parse_args(argv)
    global pyte
    pyte = load_pyte(not args.no_setup)
    chosen_interval = args.interval
    args.interval = console_interval() if chosen_interval is None else chosen_interval

    raise_nofile()
    RESULTS_DIR.mkdir(exist_ok=True)
    results = RESULTS_DIR / f"console-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    n_fleet = max(0 if args.skip_idle else args.hosts, 0 if args.skip_flood else args.flood_hosts, 1)
    workdir = Path(tempfile.mkdtemp(prefix=f"fleetdeck-console-n{n_fleet}-"))
    workdir.chmod(0o755)
    fleet = SshFleet(workdir / "fleet", n_fleet, ready_timeout=max(10.0, n_fleet / 20))
    print(
        f"console bench: idle {args.hosts} hosts x {0 if args.skip_idle else args.runs} runs of {args.window:g}s, "
        f"flood {args.flood_hosts} hosts + {args.flood_mb:g} MB, >= {args.keys} keys; {COLS}x{ROWS} {TERM}; "
        f"{os.cpu_count()} CPUs; load {loadavg()}"
    )
    print(f"raw records: {results}", flush=True)
    idle: list[IdleRecord] = []
    floods: list[FloodRecord] = []
    profile_lines: list[str] = []
    try:
        fleet.start()
        for pid in fleet.pids if args.fleet_nice else ():
            os.setpriority(os.PRIO_PROCESS, pid, args.fleet_nice)  # their sessions and shells inherit it
        nice = f", nice {args.fleet_nice}" if args.fleet_nice else ""
        print(f"fleet: {len(fleet.hosts)} hosts, {fleet.n_shards} sshd shards{nice}", flush=True)
        every = chosen_interval
        off = args.offscreen
        idle_cfg = None if args.skip_idle else write_config(fleet, workdir / "config-idle", args.hosts, every, off)
        flood_cfg = (
            None if args.skip_flood else write_config(fleet, workdir / "config-flood", args.flood_hosts, every, off)
        )
        first_host = fleet.hosts[0][0]
        with results.open("w") as out:
            out.write(json.dumps({"type": "meta", "args": vars(args), "loadavg": loadavg()}) + "\n")

            def keep(kind: str, record: Any) -> None:
                out.write(json.dumps({"type": kind, **asdict(record)}) + "\n")
                out.flush()

            def pause() -> None:
                wait_children_gone(fleet.pids, 30)
                time.sleep(2)

            if idle_cfg is not None:
                for round_no in range(1, args.runs + 1):
                    pause()
                    record = measure_idle(round_no, idle_cfg, args.hosts, workdir, args)
                    idle.append(record)
                    keep("idle", record)
                    print(idle_line(record), flush=True)
                    if not record.ok and record.screen_end:
                        print("    screen:\n" + record.screen_end, flush=True)
            if flood_cfg is not None:
                for round_no in range(1, args.flood_runs + 1):
                    pause()
                    for record in measure_flood(round_no, flood_cfg, args.flood_hosts, first_host, workdir, args):
                        floods.append(record)
                        keep("flood", record)
                        print(flood_line(record), flush=True)
            if args.profile:
                profile_lines.append("== py-spy profiles (uncounted runs)")
                if idle_cfg is not None:
                    pause()
                    raw = workdir / "idle.pyspy.txt"
                    record = measure_idle(-1, idle_cfg, args.hosts, workdir, args, spy_out=raw)
                    keep("idle", record)
                    profile_lines.append(idle_line(record).replace("[idle -1]", "[idle py-spy]"))
                    if raw.exists():
                        profile_lines += report_pyspy(raw, f"idle console, {args.hosts} hosts", args.top)
                if flood_cfg is not None:
                    pause()
                    raw = workdir / "flood.pyspy.txt"
                    saved_keys, args.keys = args.keys, 1  # one flood
                    for record in measure_flood(
                        -1, flood_cfg, args.flood_hosts, first_host, workdir, args, spy_out=raw
                    ):
                        keep("flood", record)
                        profile_lines.append(flood_line(record))
                    args.keys = saved_keys
                    if raw.exists():
                        profile_lines += report_pyspy(
                            raw, "console during one flood (command box to the last key)", args.top
                        )
                keep_dir = RESULTS_DIR / "console-profiles"
                keep_dir.mkdir(exist_ok=True)
                for raw in workdir.glob("*.pyspy.txt"):
                    shutil.copy(raw, keep_dir / raw.name)
                profile_lines.append(f"raw profiles copied to {keep_dir}")
        print()
        print(LEGEND)
        print("\n".join(render(idle, floods, args)))
        if profile_lines:
            print()
            print("\n".join(profile_lines))
        print(f"\nload at end: {loadavg()}; raw records: {results}")
    finally:
        fleet.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(r.ok for r in idle) and all(r.ok for r in floods) and (idle or floods) else 1


LEGEND = (
    "CPU = utime+stime of the console process over the window (idle) or Enter -> summary done (flood), 100 = one "
    "core; RSS/PSS from smaps_rollup; key latency = letter written to the pty -> the emulated screen shows it in the "
    "output search line (keys sent on their own clock, not after the previous one showed), keys sent while a flood "
    "ran, a missed key counting as --key-timeout; term side "
    "= this harness reading the pty into pyte; box = whole machine busy (2 cores = 200%), others' jobs included."
)


if __name__ == "__main__":
    raise SystemExit(main())
