"""The three health-watching clients ``health_watch.py`` measures, one subcommand each, run as child processes.

- ``fleetdeck``: ``HealthCollector`` built by ``build_collector`` on the fleet's config: one long-lived probe
  channel per host on the pooled connection, the remote ``sh`` loop pushing a frame every interval;
- ``controlmaster``: one OpenSSH ControlMaster per host (``ssh -M -S CTL -o ControlPersist=yes ... true``), then
  every interval ``ssh -S CTL host cat /proc/...`` for every host, at most ``--concurrency`` at once, counting
  bytes only. A plain selector loop over ``subprocess.Popen`` pipes, so the driver adds as little as it can to
  the cost of the ``ssh`` processes themselves;
- ``asyncssh``: one asyncssh connection per host and ``conn.run("cat /proc/...")`` per host per interval (a new
  session channel per sample), each host on its own phase of the interval (host i at i/N of it).

Protocol with the harness (stdout lines, stdin words): the child sets itself up and prints ``READY {json}`` once
every host has delivered samples (connections and masters are open, setup is over); the harness then writes
``start`` and, ``--duration`` later, ``stop``; the child prints ``RESULT {json}`` about the samples that arrived
in between, tears down and exits. Only ``up`` samples count.

Lag. The hosts are loopback addresses of this machine, so a host's ``/proc/uptime`` and our
``CLOCK_BOOTTIME`` are one clock (to the 10 ms /proc/uptime shows). Every sample carries the uptime at which
the host read its counters (fleetdeck's probe reads it first in a frame; ``cat`` reads it last), and the child
notes ``CLOCK_BOOTTIME`` when the sample is complete on its side. ``transit`` is that difference: read on the
host to sample in hand. The lag from a *change* on a host to the sample that shows it also waits for the next
read: a change at host time t in [u_i, u_i+1) is first seen by read i+1 and arrives at a_i+1, lag = a_i+1 - t.
:func:`lag_summary` integrates that over t, uniformly, between every pair of consecutive reads of every
host, from the measured timestamps (so late or missed reads lengthen it as they should).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROC_FILES = ("/proc/stat", "/proc/meminfo", "/proc/loadavg", "/proc/net/dev", "/proc/diskstats", "/proc/uptime")
CAT_COMMAND = "cat " + " ".join(PROC_FILES)  # /proc/uptime last: its line ends the output
READY_MARK = "READY "
RESULT_MARK = "RESULT "
LAG_POINTS = 20  # change instants per read interval in the lag integral
PR_SET_CHILD_SUBREAPER = 36


def boottime() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def emit(mark: str, doc: dict[str, Any]) -> None:
    sys.stdout.write(mark + json.dumps(doc) + "\n")
    sys.stdout.flush()


def uptime_of(tail: bytes) -> float | None:
    """The uptime from the last line of ``cat ... /proc/uptime`` output."""
    lines = tail.rstrip(b"\n").rsplit(b"\n", 1)
    try:
        return float(lines[-1].split()[0])
    except (IndexError, ValueError):
        return None


def _percentile(pairs: Sequence[tuple[float, float]], q: float) -> float | None:
    """Weighted percentile of (value, weight) pairs."""
    if not pairs:
        return None
    ordered = sorted(pairs)
    total = sum(w for _, w in ordered)
    seen = 0.0
    for value, weight in ordered:
        seen += weight
        if seen >= q * total:
            return value
    return ordered[-1][0]


def lag_summary(reads: dict[str, list[tuple[float, float]]]) -> dict[str, Any]:
    """Transit and change-to-sample lag statistics from (host uptime at read, local boottime at arrival)."""
    transit = [(arrived - read, 1.0) for samples in reads.values() for read, arrived in samples]
    change: list[tuple[float, float]] = []
    periods: list[float] = []
    for samples in reads.values():
        ordered = sorted(samples)
        for (read0, _), (read1, arrived1) in itertools.pairwise(ordered):
            period = read1 - read0
            if period <= 0:
                continue
            periods.append(period)
            for j in range(LAG_POINTS):
                t = read0 + (j + 0.5) / LAG_POINTS * period
                change.append((arrived1 - t, period / LAG_POINTS))
    weight = sum(w for _, w in change)
    return {
        "transit_p50_s": _percentile(transit, 0.5),
        "transit_p95_s": _percentile(transit, 0.95),
        "transit_max_s": max((v for v, _ in transit), default=None),
        "lag_p50_s": _percentile(change, 0.5),
        "lag_p95_s": _percentile(change, 0.95),
        "lag_mean_s": sum(v * w for v, w in change) / weight if weight else None,
        "read_period_mean_s": sum(periods) / len(periods) if periods else None,
        "read_period_max_s": max(periods, default=None),
    }


@dataclass(slots=True)
class Window:
    """Counts what arrives between ``start`` and ``stop``."""

    open: bool = False
    opened_at: float = 0.0
    closed_at: float = 0.0
    samples: int = 0
    failures: int = 0
    bytes: int = 0
    reads: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))

    def start(self) -> None:
        self.open, self.opened_at = True, time.monotonic()

    def stop(self) -> None:
        self.open, self.closed_at = False, time.monotonic()

    def sample(self, host: str, uptime: float | None, nbytes: int = 0) -> None:
        if not self.open:
            return
        if uptime is None:
            self.failures += 1
            return
        self.samples += 1
        self.bytes += nbytes
        self.reads[host].append((uptime, boottime()))

    def failure(self) -> None:
        if self.open:
            self.failures += 1

    def finish(self, **extra: Any) -> None:
        """Print the RESULT line now, before any teardown (so a slow teardown cannot lose it)."""
        emit(RESULT_MARK, self.result(clock_skew_s=CLOCK_SKEW_S, **extra))

    def result(self, **extra: Any) -> dict[str, Any]:
        span = self.closed_at - self.opened_at
        return {
            "window_s": span,
            "samples": self.samples,
            "samples_per_s": self.samples / span if span > 0 else None,
            "failures": self.failures,
            "bytes_per_sample": self.bytes / self.samples if self.samples and self.bytes else None,
            "hosts_seen": len(self.reads),
            **lag_summary(self.reads),
            **extra,
        }


def clock_check() -> float:
    """Seconds between this namespace's /proc/uptime and CLOCK_BOOTTIME (the lag measure needs ~0)."""
    up = float(Path("/proc/uptime").read_text().split()[0])
    return boottime() - up


CLOCK_SKEW_S = clock_check()


def note(message: str) -> None:
    """A timestamped line on stderr (the harness quotes its tail when a run fails)."""
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


class StdinCommands:
    """``start``/``stop`` from the harness, for an asyncio child."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self._buffer = b""
        asyncio.get_running_loop().add_reader(sys.stdin.fileno(), self._ready)

    def _ready(self) -> None:
        data = os.read(sys.stdin.fileno(), 4096)
        if not data:
            asyncio.get_running_loop().remove_reader(sys.stdin.fileno())
            self.queue.put_nowait("stop")
            return
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if line.strip():
                self.queue.put_nowait(line.strip().decode())

    async def expect(self, word: str) -> None:
        while (got := await self.queue.get()) != word:
            if got == "stop":  # harness gone
                raise SystemExit(2)


async def run_window(window: Window, commands: StdinCommands, profile: str | None) -> None:
    """Open the window on ``start``, close it on ``stop`` (optionally under cProfile)."""
    await commands.expect("start")
    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile(time.thread_time)  # the event loop's thread: where the collector runs
        profiler.enable()
    window.start()
    await commands.expect("stop")
    window.stop()
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(profile)


# -- fleetdeck -------------------------------------------------------------------------------------


async def fleetdeck_main(args: argparse.Namespace) -> None:
    from fleetdeck.core.config import load_config
    from fleetdeck.core.health.collector import CollectorSettings
    from fleetdeck.core.health.sample import HealthSample
    from fleetdeck.core.health.watch import build_collector
    from fleetdeck.core.transport.rlimit import raise_nofile

    raise_nofile()
    commands = StdinCommands()
    config = load_config(Path(args.config))
    hosts = list(config.inventory)
    settings = CollectorSettings.for_interval(args.interval)
    window = Window()
    up_counts: dict[str, int] = defaultdict(int)
    not_up: dict[str, int] = defaultdict(int)

    def on_sample(sample: HealthSample) -> None:
        if sample.status == "up":
            up_counts[sample.host] += 1
            window.sample(sample.host, sample.uptime_s)
        else:
            not_up[sample.status] += 1
            window.failure()

    collector = build_collector(config.inventory, hosts, on_sample, state=Path(args.state), settings=settings)
    task = asyncio.ensure_future(collector.run())
    try:
        deadline = time.monotonic() + args.ready_timeout
        while time.monotonic() < deadline:  # steady: every host has delivered two frames (rates need two)
            if sum(1 for n in up_counts.values() if n >= 2) == len(hosts):
                break
            await asyncio.sleep(0.1)
        ready = sum(1 for n in up_counts.values() if n >= 2)
        emit(READY_MARK, {"hosts": len(hosts), "ready": ready, "not_up": dict(not_up)})
        await run_window(window, commands, args.profile)
        window.finish(not_up=dict(not_up))
    finally:
        started = time.monotonic()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        cancelled = time.monotonic()
        note(f"teardown: collector task cancelled in {cancelled - started:.2f}s")
        if collector.ssh is not None:
            await collector.ssh.close()
        note(f"teardown: SshTransport.close() took {time.monotonic() - cancelled:.2f}s")


# -- asyncssh, a new channel per sample ------------------------------------------------------------


def read_hosts(path: Path) -> list[tuple[str, str, int]]:
    hosts = []
    for line in path.read_text().splitlines():
        if line.strip():
            name, address, port = line.split()
            hosts.append((name, address, int(port)))
    return hosts


async def asyncssh_main(args: argparse.Namespace) -> None:
    import asyncssh

    from fleetdeck.core.transport.rlimit import raise_nofile

    raise_nofile()
    commands = StdinCommands()
    hosts = read_hosts(Path(args.hosts))
    options = asyncssh.SSHClientConnectionOptions(
        username=args.user,
        client_keys=[asyncssh.read_private_key(args.key)],
        known_hosts=asyncssh.read_known_hosts(args.known_hosts),
        agent_path=None,
        config=[],
        connect_timeout=30,
        keepalive_interval=15,  # as fleetdeck's pool does
    )
    limit = asyncio.Semaphore(32)  # fleetdeck's SshLimits.max_handshakes
    window = Window()
    delivered: dict[str, int] = defaultdict(int)

    async def connect(address: str, port: int) -> asyncssh.SSHClientConnection:
        async with limit:
            return await asyncssh.connect(address, port, options=options)

    conns = await asyncio.gather(*(connect(a, p) for _, a, p in hosts), return_exceptions=True)
    failed_connects = sum(1 for c in conns if isinstance(c, BaseException))
    base = time.monotonic()

    async def poll(index: int, name: str, conn: asyncssh.SSHClientConnection) -> None:
        phase = base + index * args.interval / len(hosts)
        while True:
            now = time.monotonic()
            await asyncio.sleep(args.interval - ((now - phase) % args.interval))
            try:
                result = await conn.run(CAT_COMMAND, encoding=None, check=False)
            except (asyncssh.Error, OSError):
                window.failure()
                continue
            out = result.stdout if isinstance(result.stdout, bytes) else b""
            if result.exit_status == 0 and out:
                delivered[name] += 1
                window.sample(name, uptime_of(out[-200:]), len(out))
            else:
                window.failure()

    tasks = [
        asyncio.ensure_future(poll(i, name, conn))
        for i, ((name, _, _), conn) in enumerate(zip(hosts, conns, strict=True))
        if not isinstance(conn, BaseException)
    ]
    try:
        deadline = time.monotonic() + args.ready_timeout
        while time.monotonic() < deadline and sum(1 for n in delivered.values() if n >= 1) < len(tasks):
            await asyncio.sleep(0.1)
        emit(READY_MARK, {"hosts": len(hosts), "ready": len(delivered), "failed_connects": failed_connects})
        await run_window(window, commands, None)
        window.finish(failed_connects=failed_connects)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for conn in conns:
            if not isinstance(conn, BaseException):
                conn.close()
        for conn in conns:
            if not isinstance(conn, BaseException):
                with contextlib.suppress(Exception):
                    await conn.wait_closed()


# -- OpenSSH ControlMaster -------------------------------------------------------------------------


@dataclass(slots=True)
class _Fetch:
    host: str
    proc: subprocess.Popen[bytes]
    nbytes: int = 0
    tail: bytes = b""


class ControlMasterDriver:
    """Sweeps every host through its master each interval, ``concurrency`` ``ssh`` clients at a time."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.ssh_config = args.ssh_config
        self.ctl_dir = Path(args.ctl_dir)
        self.hosts = [line.strip() for line in Path(args.hosts).read_text().splitlines() if line.strip()]
        self.concurrency = args.concurrency
        self.interval = args.interval
        self.window = Window()
        self.selector = selectors.DefaultSelector()
        self.stdin_buffer = b""
        self.commands: deque[str] = deque()
        self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, None)

    def ctl(self, host: str) -> str:
        return str(self.ctl_dir / host)

    def open_masters(self) -> int:
        """``ssh -M ... true`` per host, 32 at a time; the masters fork into the background and stay."""
        failed = 0
        pending = deque(self.hosts)
        running: list[subprocess.Popen[bytes]] = []
        while pending or running:
            while pending and len(running) < 32:
                host = pending.popleft()
                argv = [
                    "ssh",
                    "-M",
                    "-S",
                    self.ctl(host),
                    "-o",
                    "ControlPersist=yes",
                    "-F",
                    self.ssh_config,
                    host,
                    "true",
                ]
                running.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL))
            proc = running.pop(0)
            failed += proc.wait() != 0
        return failed

    def close_masters(self) -> None:
        """Stop every master (our children: we are their subreaper) and reap them."""
        for pid in self.children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                time.sleep(0.05)

    @staticmethod
    def children() -> list[int]:
        me, found = os.getpid(), []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    stat = (entry / "stat").read_text()
                    if int(stat[stat.rindex(")") + 2 :].split()[1]) == me:
                        found.append(int(entry.name))
        return found

    def _stdin(self) -> None:
        data = os.read(sys.stdin.fileno(), 4096)
        if not data:
            self.selector.unregister(sys.stdin.fileno())
            self.commands.append("stop")
            return
        self.stdin_buffer += data
        *lines, self.stdin_buffer = self.stdin_buffer.split(b"\n")
        self.commands.extend(line.strip().decode() for line in lines if line.strip())

    def _handle_commands(self) -> bool:
        """Apply start/stop; True once stopped."""
        while self.commands:
            word = self.commands.popleft()
            if word == "start" and not self.window.open:
                self.window.start()
            elif word == "stop":
                self.window.stop()
                return True
        return False

    def wait(self, seconds: float) -> bool:
        """Idle until ``seconds`` have passed, watching stdin; True once stopped."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            for key, _ in self.selector.select(left):
                if key.data is None:
                    self._stdin()
            if self._handle_commands():
                return True
        return False

    def sweep(self) -> bool:
        """One round over every host; True once stopped."""
        pending = deque(self.hosts)
        running: dict[int, _Fetch] = {}
        stopped = False
        while pending or running:
            while pending and len(running) < self.concurrency:
                host = pending.popleft()
                argv = ["ssh", "-S", self.ctl(host), "-F", self.ssh_config, host, CAT_COMMAND]
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
                assert proc.stdout is not None
                fd = proc.stdout.fileno()
                running[fd] = _Fetch(host, proc)
                self.selector.register(fd, selectors.EVENT_READ, fd)
            for key, _ in self.selector.select():
                if key.data is None:
                    self._stdin()
                    continue
                fetch = running[key.data]
                data = os.read(key.data, 65536)
                if data:
                    fetch.nbytes += len(data)
                    fetch.tail = (fetch.tail + data)[-200:]
                    continue
                up = uptime_of(fetch.tail)  # EOF: the sample is complete here
                self.selector.unregister(key.data)
                del running[key.data]
                assert fetch.proc.stdout is not None
                fetch.proc.stdout.close()
                if fetch.proc.wait() == 0 and up is not None:
                    self.window.sample(fetch.host, up, fetch.nbytes)
                else:
                    self.window.failure()
            stopped = stopped or self._handle_commands()
        return stopped

    def run(self) -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # the daemonised masters become our children
        self.ctl_dir.mkdir(parents=True, exist_ok=True)
        try:
            failed = self.open_masters()
            self.sweep()  # warm: every master has served a session
            emit(
                READY_MARK,
                {"hosts": len(self.hosts), "ready": len(self.hosts) - failed, "masters": len(self.children())},
            )
            base = time.monotonic()
            while True:
                if self.sweep():
                    break
                # Next interval boundary after the sweep (a sweep that overruns skips a beat, as polls never overlap).
                if self.wait(self.interval - ((time.monotonic() - base) % self.interval)):
                    break
            self.window.finish(failed_masters=failed)
        finally:
            self.close_masters()


# -- main ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="client", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--interval", type=float, default=2.0)
    common.add_argument("--ready-timeout", type=float, default=120.0)
    fd = sub.add_parser("fleetdeck", parents=[common])
    fd.add_argument("--config", required=True)
    fd.add_argument("--state", required=True)
    fd.add_argument("--profile", help="write a cProfile of the window (event-loop thread CPU) here")
    cm = sub.add_parser("controlmaster", parents=[common])
    cm.add_argument("--ssh-config", required=True)
    cm.add_argument("--hosts", required=True, help="one ssh_config host alias per line")
    cm.add_argument("--ctl-dir", required=True)
    cm.add_argument("--concurrency", type=int, default=64)
    ax = sub.add_parser("asyncssh", parents=[common])
    ax.add_argument("--hosts", required=True, help="'name address port' per line")
    ax.add_argument("-u", "--user", required=True)
    ax.add_argument("-k", "--key", required=True)
    ax.add_argument("-K", "--known-hosts", required=True)
    args = parser.parse_args(argv)
    runners: dict[str, Callable[[], None]] = {
        "fleetdeck": lambda: asyncio.run(fleetdeck_main(args)),
        "asyncssh": lambda: asyncio.run(asyncssh_main(args)),
        "controlmaster": lambda: ControlMasterDriver(args).run(),
    }
    runners[args.client]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
