"""The real probe script under dash and BusyBox ash on this machine: frames, samples, forks, and exit.

Each test runs the exact argument vector `probe_argv` builds, with a 1 s interval, and reads its stdout the
way the collector will: through `read_samples`. Samples are compared with psutil's view of the same machine.
Forks per tick are counted with `strace -f` between consecutive `@@END` writes and held to the numbers
`fleetdeck.core.health.probe` documents. The exit tests close the reading end, or kill the probe's parent
while the pipe stays open, and require the probe (and its sleep) gone within two intervals. The command line
is also run through login shells, tcsh included, as sshd would hand it to the user's shell.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from fleetdeck.core.health import HealthSample
from fleetdeck.core.health.frames import Frame, FrameSplitter, read_samples
from fleetdeck.core.health.local import read_os_name
from fleetdeck.core.health.probe import (
    FORKS_AT_START,
    FORKS_PER_FS_TICK,
    FORKS_PER_TICK,
    PROBE_NAME,
    probe_argv,
    probe_command,
)

INTERVAL_S = 1
SHELLS = {"dash": ["dash"], "busybox": ["busybox", "sh"]}


@pytest.fixture(params=sorted(SHELLS))
def shell(request: pytest.FixtureRequest) -> list[str]:
    """The shell command to run the probe with; skipped where that shell is not installed."""
    name: str = request.param
    if shutil.which(SHELLS[name][0]) is None:
        pytest.skip(f"{name} is not installed (apt-get install -y {name}); the probe must run under it")
    return SHELLS[name]


def argv_for(shell: list[str], fs_every: int) -> list[str]:
    return shell + probe_argv(INTERVAL_S, fs_every)[1:]


def gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie waiting for a parent that is not us counts as exited)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pids: list[int], limit_s: float) -> float:
    """Seconds until every pid has exited; fails the test past `limit_s`."""
    start = time.monotonic()
    while not all(gone(pid) for pid in pids):
        elapsed = time.monotonic() - start
        if elapsed > limit_s:
            alive = [p for p in pids if not gone(p)]
            pytest.fail(f"still running {elapsed:.1f}s later: {alive}")
        time.sleep(0.02)
    return time.monotonic() - start


def read_until_end(stream: object, tick: int) -> bytes:
    """Read raw probe output up to and including `@@END <tick>`."""
    assert hasattr(stream, "read1")
    data = b""
    marker = b"@@END %d\n" % tick
    while marker not in data:
        chunk = stream.read1(65536)
        assert chunk, f"probe stopped before frame {tick}: {data[-300:]!r}"
        data += chunk
    return data


async def test_three_frames_become_plausible_samples(shell: list[str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv_for(shell, 2), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    samples: list[HealthSample] = []
    seen_pids: list[int] = []  # psutil's count as each sample arrives: processes come and go meanwhile
    try:
        async with asyncio.timeout(15):
            async for item in read_samples(proc.stdout.read, "localhost"):
                assert isinstance(item, HealthSample), f"{type(item).__name__}: {item}"
                samples.append(item)
                seen_pids.append(len(psutil.pids()))
                if len(samples) == 3:
                    break
    finally:
        proc.kill()
        await proc.wait()
    assert await proc.stderr.read() == b""

    now = time.time()
    total = psutil.virtual_memory().total
    first, *rest = samples
    assert first.cpu_pct is None and first.net_rx_bps is None and first.disk_read_bps is None
    for sample in samples:
        assert sample.host == "localhost" and sample.status == "up"
        assert abs(sample.time - now) < 10
        assert sample.mem_total_bytes is not None and abs(sample.mem_total_bytes - total) <= total * 0.01
        assert sample.mem_available_bytes is not None and 0 <= sample.mem_available_bytes <= sample.mem_total_bytes
        assert sample.mem_used_pct is not None and 0 <= sample.mem_used_pct <= 100
        assert sample.cores == psutil.cpu_count(logical=True)
        assert sample.load1 is not None and sample.load1 >= 0
        assert sample.uptime_s is not None and abs(sample.uptime_s - (now - psutil.boot_time())) < 10
        assert min(seen_pids) // 2 <= sample.procs <= 2 * max(seen_pids) + 50, (sample.procs, seen_pids)
        assert sample.kernel == f"Linux {platform.release()}"
        assert sample.os_name == read_os_name(Path("/etc/os-release"))
        root = [fs for fs in sample.filesystems if fs.mount == "/"]
        assert root, sample.filesystems
        assert abs(root[0].size_bytes - psutil.disk_usage("/").total) <= psutil.disk_usage("/").total * 0.01
    assert [s.time for s in samples] == sorted(s.time for s in samples)
    for sample in rest:
        for pct in (sample.cpu_pct, sample.cpu_user_pct, sample.cpu_system_pct, sample.cpu_iowait_pct):
            assert pct is not None and 0.0 <= pct <= 100.0
        assert sample.cpu_steal_pct is not None and 0.0 <= sample.cpu_steal_pct <= 100.0
        assert sample.net_rx_bps is not None and sample.net_rx_bps >= 0
        assert sample.net_tx_bps is not None and sample.net_tx_bps >= 0
        for rate in (sample.disk_read_bps, sample.disk_write_bps):
            assert rate is None or rate >= 0


def test_forks_per_tick_are_what_the_docstring_says(shell: list[str], tmp_path: Path) -> None:
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (apt-get install -y strace); it counts the probe's forks")
    fs_every, ticks = 3, 5
    log = tmp_path / "strace.log"
    trace = ["strace", "-f", "-q", "-s", "16", "-o", str(log), "-e", "trace=fork,vfork,clone,clone3,write"]
    proc = subprocess.Popen(trace + argv_for(shell, fs_every), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        read_until_end(proc.stdout, ticks)
    except AssertionError:
        proc.kill()
        stderr = proc.communicate()[1].decode(errors="replace")
        if "ptrace" in stderr or "Operation not permitted" in stderr:
            pytest.skip(f"strace cannot trace here: {stderr.strip()}")
        raise
    finally:
        assert proc.stdout is not None
        proc.stdout.close()
    proc.wait(timeout=10)

    # Each tick starts with one write that begins with its header; count the forks between those writes.
    before_first, per_tick, forks, started = 0, [], 0, False
    for line in log.read_text().splitlines():
        if re.search(r"\b(clone3?|v?fork)\(", line) and "CLONE_THREAD" not in line:
            forks += 1
        if re.search(r'write\(1, "@@FD1 \d+', line):
            if started:
                per_tick.append(forks)
            else:
                before_first, started = forks, True
            forks = 0
    assert before_first <= FORKS_AT_START, before_first
    assert len(per_tick) >= ticks - 1, per_tick
    # What follows tick k's header: its df (on df ticks), then its sleep.
    allowed = [FORKS_PER_TICK + (FORKS_PER_FS_TICK if (tick - 1) % fs_every == 0 else 0) for tick in range(1, ticks)]
    assert all(got <= limit for got, limit in zip(per_tick, allowed, strict=False)), (per_tick, allowed)
    plain = [per_tick[t - 1] for t in range(1, ticks) if (t - 1) % fs_every]
    assert plain and max(plain) <= FORKS_PER_TICK, per_tick
    assert all(got >= 1 for got in per_tick), f"the sleep should be the one fork of a plain tick: {per_tick}"


@pytest.mark.parametrize("sigpipe", ["default", "ignored"])
def test_closing_the_reader_ends_the_probe_within_two_intervals(shell: list[str], sigpipe: str) -> None:
    # restore_signals=False lets the child inherit Python's SIG_IGN for SIGPIPE: then only the failed write
    # (EPIPE) can stop the loop, as under an sshd that ignores the signal.
    proc = subprocess.Popen(
        argv_for(shell, 100),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        restore_signals=sigpipe == "default",
    )
    assert proc.stdout is not None
    try:
        read_until_end(proc.stdout, 1)
        children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        proc.stdout.close()
        elapsed = wait_gone([proc.pid, *children], 2 * INTERVAL_S)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert elapsed <= 2 * INTERVAL_S
    if sigpipe == "default":
        assert proc.returncode in (0, -signal.SIGPIPE)
    else:
        assert proc.returncode == 0


def test_losing_the_parent_ends_the_probe_even_with_stdout_open(shell: list[str]) -> None:
    # The outer dash stands in for the sshd session; killing it leaves the pipe open (we hold the read end).
    outer = subprocess.Popen(
        ["dash", "-c", shlex.join(argv_for(shell, 100)) + " & wait"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert outer.stdout is not None
    try:
        read_until_end(outer.stdout, 1)
        probe = psutil.Process(outer.pid).children()
        assert len(probe) == 1
        family = [probe[0].pid, *(c.pid for c in probe[0].children(recursive=True))]
        os.kill(outer.pid, signal.SIGKILL)
        outer.wait()
        wait_gone(family, 2 * INTERVAL_S)
    finally:
        outer.stdout.close()
        if outer.poll() is None:
            outer.kill()
            outer.wait()


def test_probe_command_is_one_line_without_history_bangs_and_checks_its_arguments() -> None:
    command = probe_command(2, 30)
    assert "\n" not in command and "!" not in command
    assert shlex.split(command)[3:] == [PROBE_NAME, "2", "30"]
    bad: list[tuple[Any, Any]] = [(0, 30), (2, 0), (1.5, 30), (True, 30), (2, "30")]
    for interval, every in bad:
        with pytest.raises(ValueError, match="must be a whole number of at least 1"):
            probe_command(interval, every)


@pytest.mark.parametrize("login", ["dash", "bash", "tcsh"])
def test_the_command_line_survives_the_users_login_shell(login: str) -> None:
    # sshd runs `$SHELL -c '<command>'`; csh-family shells reject a newline inside quotes.
    if shutil.which(login) is None:
        pytest.skip(f"{login} is not installed (apt-get install -y {login})")
    proc = subprocess.Popen(
        [login, "-c", probe_command(INTERVAL_S, 100)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        data = read_until_end(proc.stdout, 1)
    finally:
        proc.stdout.close()
        proc.kill()
        stderr = proc.communicate()[1]
    end = data.index(b"@@END 1\n") + len(b"@@END 1\n")
    items = FrameSplitter().feed(data[:end])
    assert [type(item) for item in items] == [Frame], (items, stderr)
