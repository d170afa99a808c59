"""Measure one benchmark command: wall time, CPU and peak RSS of its whole process tree, and its output.

The command runs in its own session (so leftovers can be killed as a group) and is reaped with
``os.wait4``: the rusage it returns covers the child and every descendant it waited for, which is the
same user+sys figure ``/usr/bin/time -v`` prints. ``ru_maxrss`` is the largest single process of that
tree. On Linux a child forked from this harness cannot read below the harness's own RSS at fork time
(the exec'd image inherits the high-water mark), so when GNU time is installed the command is started
under ``/usr/bin/time``, a small C program whose own ``wait4`` reports the tree's ``ru_maxrss`` without
that floor; :func:`rss_floor_mb` tells the floor of whatever method is in use.

The sshd side is read from ``/proc``: the fleet's sshd listeners are child subreapers, so every session
process ends up reaped by its listener and its CPU lands in the listener's ``cutime``/``cstime``.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
GNU_TIME = Path("/usr/bin/time")


@dataclass(frozen=True, slots=True)
class Measured:
    """What one run of a command cost and printed."""

    argv: tuple[str, ...]
    exit_code: int  # negative: killed by that signal
    wall_s: float
    user_s: float
    sys_s: float
    maxrss_mb: float
    stdout: str
    stderr: str
    timed_out: bool

    @property
    def cpu_s(self) -> float:
        """User plus system time of the command and every descendant it waited for."""
        return self.user_s + self.sys_s


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run_measured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600.0,
) -> Measured:
    """Run ``argv`` with stdin from /dev/null and stdout/stderr captured in files, and measure it.

    After ``timeout`` seconds the whole process group is killed and the result says so. Processes of the
    group still alive once the command itself has exited (daemonised helpers) are killed too, so they
    cannot eat into the next run.
    """
    use_time = GNU_TIME.is_file() and os.access(GNU_TIME, os.X_OK)
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile(prefix="bench-time-") as rss_file,
    ):
        command = [str(GNU_TIME), "-o", rss_file.name, "-f", "%M", *argv] if use_time else list(argv)
        timed_out = threading.Event()
        start = time.perf_counter()
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )

        def expire() -> None:
            timed_out.set()
            _kill_group(proc.pid)

        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        timer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        _kill_group(proc.pid)
        out.seek(0)
        err.seek(0)
        maxrss_kb = usage.ru_maxrss
        if use_time:
            # The last line is the %M figure; "Command exited with non-zero status N" may precede it.
            lines = Path(rss_file.name).read_text().split()
            if lines and lines[-1].isdigit():
                maxrss_kb = int(lines[-1])
        return Measured(
            argv=tuple(argv),
            exit_code=proc.returncode,
            wall_s=wall,
            user_s=usage.ru_utime,
            sys_s=usage.ru_stime,
            maxrss_mb=maxrss_kb / 1024,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            timed_out=timed_out.is_set(),
        )


def rss_floor_mb() -> float:
    """Peak RSS of ``true`` measured the same way: the lowest figure any variant can show."""
    return run_measured(["true"], timeout=10).maxrss_mb


def tree_cpu_s(pids: Sequence[int]) -> float:
    """CPU seconds of the given processes plus all the children they have reaped (from /proc/PID/stat)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            # fields[11:15] are utime, stime, cutime, cstime (stat fields 14-17).
            total += sum(int(value) for value in fields[11:15])
    return total / CLOCK_TICKS


def box_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores, neither idle nor iowait) since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def wait_children_gone(pids: Sequence[int], timeout: float = 15.0) -> bool:
    """Wait until none of ``pids`` has a child left (sshd sessions finished and reaped)."""
    deadline = time.monotonic() + timeout
    while True:
        busy = False
        for pid in pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                if psutil.Process(pid).children():
                    busy = True
                    break
        if not busy:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


@dataclass
class FoldedStacks:
    """py-spy's collapsed stacks summed: busy samples, per innermost frame, per frame anywhere, per area."""

    total: int
    own: collections.Counter[str]
    inclusive: collections.Counter[str]
    areas: collections.Counter[str]


def fold_pyspy(raw: Path, areas: Sequence[tuple[str, str]]) -> FoldedStacks:
    """Sum a py-spy ``--format raw`` file; each stack's area is the label of the innermost frame matching one
    of ``areas`` (label, regex), else ``other``. Thread and process pseudo-frames are dropped."""
    folded = FoldedStacks(0, collections.Counter(), collections.Counter(), collections.Counter())
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith(("thread", "process"))]
        if not frames:
            continue
        folded.total += count
        folded.own[frames[-1]] += count
        for frame in set(frames):
            folded.inclusive[frame] += count
        area = next(
            (label for frame in reversed(frames) for label, pattern in areas if re.search(pattern, frame)), "other"
        )
        folded.areas[area] += count
    return folded
