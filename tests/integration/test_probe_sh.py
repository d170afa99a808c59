"""The real probe script under dash and BusyBox ash on this machine: frames, samples, forks, and exit.

Each test runs the exact argument vector `probe_argv` builds, asks for a frame every second by writing a
line to its stdin as the collector does, and reads its stdout the way the collector will: through
`read_samples`. Samples are compared with psutil's view of the same machine. Forks per tick are counted
with `strace -f` between consecutive frame headers and held to the numbers `fleetdeck.core.health.probe`
documents. The exit tests close its stdin, close its stdout, or kill its parent while both pipes stay open,
and require the probe gone promptly. The command line is also run through login shells, tcsh included, as
sshd would hand it to the user's shell.
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
import threading
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
from probe_capture import CASES, probe_frame

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
    return shell + probe_argv(fs_every)[1:]


def ask_every_interval(stdin: Any, count: int) -> threading.Thread:
    """Write `count` request lines to a probe's stdin, one per `INTERVAL_S`, from a thread."""

    def feed() -> None:
        for _ in range(count):
            time.sleep(INTERVAL_S)
            try:
                stdin.write(b"\n")
                stdin.flush()
            except (BrokenPipeError, ValueError):
                return

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return thread


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
        *argv_for(shell, 2),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
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
                await asyncio.sleep(INTERVAL_S)
                proc.stdin.write(b"\n")  # The next frame comes only when asked for.
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


def test_the_tick_holds_only_the_numbers_that_are_used(shell: list[str]) -> None:
    proc = subprocess.Popen(argv_for(shell, 100), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        data = read_until_end(proc.stdout, 1)
    finally:
        proc.stdin.close()
        proc.stdout.close()
        proc.wait(timeout=5)
    (frame,) = FrameSplitter().feed(data[: data.index(b"@@END 1\n") + 8])
    assert isinstance(frame, Frame)
    lines = frame.sections["tick"].splitlines()
    (mem,) = [line.split()[1:] for line in lines if line.startswith("m ")]
    assert len(mem) == 7 and int(mem[0]) * 1024 == psutil.virtual_memory().total
    nics = [line.split()[1] for line in lines if line.startswith("n ")]
    assert nics == [line.partition(":")[0].strip() for line in Path("/proc/net/dev").read_text().splitlines()[2:]]
    disks = [line.split()[1] for line in lines if line.startswith("d ")]
    listed = [line.split()[2] for line in Path("/proc/diskstats").read_text().splitlines()]
    assert disks == [name for name in listed if not re.match(r"(loop|ram|zram|dm-|md)\d", name)]
    assert len(frame.sections["tick"]) < 120 * len(lines), "the tick is numbers, not whole /proc lines"


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_every_shell_picks_the_same_numbers_out_of_captured_hosts(shell: list[str], case: str) -> None:
    """The captures (RHEL 5 to Debian 12) under a fake root: dash and BusyBox print the same tick as `sh`."""
    got = probe_frame(case, tuple(shell))
    assert got.sections["tick"] == probe_frame(case).sections["tick"]
    assert got.sections["kernel"] == probe_frame(case).sections["kernel"]
    assert got.sections["tick"].count("\nd ") >= 1 and got.sections["tick"].count("\nn ") >= 1


def test_forks_per_tick_are_what_the_docstring_says(shell: list[str], tmp_path: Path) -> None:
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (apt-get install -y strace); it counts the probe's forks")
    fs_every, ticks = 3, 5
    log = tmp_path / "strace.log"
    trace = ["strace", "-f", "-q", "-s", "16", "-o", str(log), "-e", "trace=fork,vfork,clone,clone3,write"]
    proc = subprocess.Popen(
        trace + argv_for(shell, fs_every), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    ask_every_interval(proc.stdin, ticks - 1)
    try:
        read_until_end(proc.stdout, ticks)
    except AssertionError:
        proc.kill()
        stderr = proc.communicate()[1].decode(errors="replace")
        if "ptrace" in stderr or "Operation not permitted" in stderr:
            pytest.skip(f"strace cannot trace here: {stderr.strip()}")
        raise
    finally:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdout.close()
        proc.stdin.close()
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
    # What follows tick k's header: its df (on df ticks), then the wait for the next request, which forks nothing.
    allowed = [FORKS_PER_TICK + (FORKS_PER_FS_TICK if (tick - 1) % fs_every == 0 else 0) for tick in range(1, ticks)]
    assert all(got <= limit for got, limit in zip(per_tick, allowed, strict=False)), (per_tick, allowed)
    plain = [per_tick[t - 1] for t in range(1, ticks) if (t - 1) % fs_every]
    assert plain and max(plain) <= FORKS_PER_TICK, per_tick
    df_ticks = [per_tick[t - 1] for t in range(1, ticks) if (t - 1) % fs_every == 0]
    assert all(got >= 1 for got in df_ticks), f"a df tick runs df: {per_tick}"


def test_a_probe_waits_for_requests_and_ends_at_end_of_input(shell: list[str]) -> None:
    proc = subprocess.Popen(argv_for(shell, 100), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        read_until_end(proc.stdout, 1)  # The first frame comes unasked.
        time.sleep(2 * INTERVAL_S)
        assert proc.poll() is None
        os.set_blocking(proc.stdout.fileno(), False)
        assert proc.stdout.read1(65536) in (None, b""), "a frame came without a request"
        os.set_blocking(proc.stdout.fileno(), True)
        proc.stdin.write(b"\n")
        proc.stdin.flush()
        read_until_end(proc.stdout, 2)
        children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        assert children == [], "a waiting probe runs nothing"
        proc.stdin.close()  # What sshd does when the channel closes.
        elapsed = wait_gone([proc.pid], 1.0)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
    assert elapsed <= 1.0
    assert proc.returncode == 0


@pytest.mark.parametrize("sigpipe", ["default", "ignored"])
def test_closing_its_stdout_ends_the_probe_at_the_next_request(shell: list[str], sigpipe: str) -> None:
    # restore_signals=False lets the child inherit Python's SIG_IGN for SIGPIPE: then only the failed write
    # (EPIPE) can stop the loop, as under an sshd that ignores the signal.
    proc = subprocess.Popen(
        argv_for(shell, 100),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        restore_signals=sigpipe == "default",
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        read_until_end(proc.stdout, 1)
        proc.stdout.close()
        proc.stdin.write(b"\n")
        proc.stdin.flush()
        elapsed = wait_gone([proc.pid], 2 * INTERVAL_S)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdin.close()
    assert elapsed <= 2 * INTERVAL_S
    if sigpipe == "default":
        assert proc.returncode in (0, -signal.SIGPIPE)
    else:
        assert proc.returncode == 0


def test_losing_the_parent_ends_the_probe_even_with_its_pipes_open(shell: list[str]) -> None:
    # The outer dash stands in for the sshd session; killing it leaves both pipes open (we hold their other
    # ends). fd 3 carries our stdin past the /dev/null a background job gets.
    outer = subprocess.Popen(
        ["dash", "-c", "exec 3<&0; " + shlex.join(argv_for(shell, 100)) + " <&3 3<&- & wait"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert outer.stdin is not None and outer.stdout is not None
    try:
        read_until_end(outer.stdout, 1)
        probe = psutil.Process(outer.pid).children()
        assert len(probe) == 1
        os.kill(outer.pid, signal.SIGKILL)
        outer.wait()
        time.sleep(0.5)
        assert not gone(probe[0].pid), "the probe should still be waiting for a request"
        outer.stdin.write(b"\n")
        outer.stdin.flush()
        read_until_end(outer.stdout, 2)
        wait_gone([probe[0].pid], 2 * INTERVAL_S)
    finally:
        outer.stdout.close()
        outer.stdin.close()
        if outer.poll() is None:
            outer.kill()
            outer.wait()


def test_probe_command_is_one_line_without_history_bangs_and_checks_its_arguments() -> None:
    command = probe_command(30)
    assert "\n" not in command and "!" not in command
    assert shlex.split(command)[3:] == [PROBE_NAME, "30"]
    bad: list[Any] = [0, -1, 1.5, True, "30"]
    for every in bad:
        with pytest.raises(ValueError, match="must be a whole number of at least 1"):
            probe_command(every)


@pytest.mark.parametrize("login", ["dash", "bash", "tcsh"])
def test_the_command_line_survives_the_users_login_shell(login: str) -> None:
    # sshd runs `$SHELL -c '<command>'`; csh-family shells reject a newline inside quotes.
    if shutil.which(login) is None:
        pytest.skip(f"{login} is not installed (apt-get install -y {login})")
    proc = subprocess.Popen([login, "-c", probe_command(100)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
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
