"""Where a cold ``fleetdeck exec`` spends its CPU, next to the asyncssh reference on the same fleet.

Starts an N-host loopback fleet (``tests/fleet.py``), runs both clients once to warm caches, then for
``fleetdeck exec -t all --max-hosts 64 -- uptime`` and ``ref_asyncssh.py`` (64 in flight):

- total client CPU and wall (``wait4``, as in ``fanout.py``), median of ``--runs``;
- import time (``python -X importtime``) of what each imports, with and without cached bytecode;
- cProfile with a CPU clock (``time.thread_time``: the main thread, where the event loop runs): the
  functions whose own CPU grew most against the reference, and a few cumulative figures;
- py-spy (``bench/.venv/bin/py-spy`` when installed), every thread: samples by area and thread, with
  threads parked in a queue or a lock left out.

    .venv/bin/python bench/profile_exec.py --hosts 200 [--runs 3] [--top 20] [--keep DIR]
"""

from __future__ import annotations

import argparse
import collections
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from measure import run_measured
from peers import BENCH_DIR, BENCH_VENV, FANOUT, PeerFiles, bench_env, write_peer_files

REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO / "tests"))
from fleet import SshFleet  # noqa: E402  (tests/ is not a package)

#: Areas reported from py-spy stacks: the innermost frame matching one names the sample's area.
AREAS: tuple[tuple[str, str], ...] = (
    ("imports + compiling", r"_find_and_load|_load_unlocked|exec_module|source_to_code"),
    ("store: fsync + close of output files", r"HostOutput\.close"),
    ("store: sqlite writer", r"store/db\.py"),
    ("store: output files (open/write)", r"store/(sink|output_files)\.py"),
    ("printer sink", r"runner/sinks\.py"),
    ("runner + events", r"runner/(runner|events|masking)\.py"),
    ("config load + validation", r"core/config/|pydantic"),
    ("fleetdeck transport", r"core/transport/"),
    ("asyncssh options (per connection, in executor)", r"SSHClientConnectionOptions|load_keypairs|SSHConfig"),
    ("asyncssh crypto", r"asyncssh/crypto/|cryptography/|asyncssh/(kex|curve|mac|encryption)"),
    ("socket send/recv (kernel loopback TCP)", r"_SelectorSocketTransport\.write|sock_recv|_read_ready"),
    ("asyncssh other", r"asyncssh/"),
    ("asyncio event loop", r"asyncio/|selectors\.py"),
)
#: Leaf frames of a thread that waits rather than computes (py-spy cannot always tell).
IDLE = re.compile(r"_worker \(concurrent/futures/thread\.py:81\)|Condition\.wait|EpollSelector\.select|Queue\.get")

PROFILE_WRAPPER = """
import cProfile, runpy, sys, time
out, kind, target, *argv = sys.argv[1:]
sys.argv = [target, *argv]
profile = cProfile.Profile(time.thread_time)
profile.enable()
try:
    if kind == "module":
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(target, run_name="__main__")
except SystemExit:
    pass
finally:
    profile.disable()
    profile.dump_stats(out)
"""


def commands(files: PeerFiles) -> dict[str, tuple[str, str, list[str]]]:
    """name -> (kind, target, argv after the target) for runpy, for both clients."""
    return {
        "fleetdeck-exec": (
            "module",
            "fleetdeck",
            ["--config", str(files.config_dir), "exec", "-t", "all", "--max-hosts", str(FANOUT), "--", "uptime"],
        ),
        "asyncssh-min": (
            "path",
            str(BENCH_DIR / "ref_asyncssh.py"),
            [
                "-H", str(files.ref_hosts), "-u", files.user, "-k", str(files.client_key),
                "-K", str(files.known_hosts), "-l", str(FANOUT), "uptime",
            ],
        ),
    }  # fmt: skip


def plain_argv(kind: str, target: str, rest: list[str]) -> list[str]:
    return [sys.executable, "-m", target, *rest] if kind == "module" else [sys.executable, target, *rest]


def check(stdout: str, code: int, n: int, what: str) -> None:
    lines = sum("load average" in line for line in stdout.splitlines())
    if code != 0 or lines != n:
        print(f"  {what}: FAILED (exit {code}, {lines}/{n} 'load average' lines)")


def report_totals(cmds: Mapping[str, tuple[str, str, list[str]]], env: dict[str, str], n: int, runs: int) -> None:
    print(f"\n-- client totals at N = {n} (median of {runs}, alternating; wait4 rusage)")
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
    for _ in range(runs):
        for name, (kind, target, rest) in cmds.items():
            m = run_measured(plain_argv(kind, target, rest), env=env, timeout=300)
            check(m.stdout, m.exit_code, n, name)
            samples[name].append((m.wall_s, m.cpu_s))
    for name, pairs in samples.items():
        wall = statistics.median(p[0] for p in pairs)
        cpu = statistics.median(p[1] for p in pairs)
        print(f"  {name:<15} wall {wall:6.2f}s   CPU {cpu:5.2f}s   ({cpu * 1000 / n:.1f} ms/host)")


def import_ms(env: dict[str, str], modules: str) -> float:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {modules}"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    total = 0
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S+)", line)  # depth 0 only: one space
        if match:
            total += int(match[1])
    return total / 1000


def report_imports(env: dict[str, str]) -> None:
    print("\n-- imports (python -X importtime, top-level cumulative)")
    uncached = {k: v for k, v in env.items() if k != "PYTHONPYCACHEPREFIX"} | {"PYTHONDONTWRITEBYTECODE": "1"}
    fleetdeck_modules = "fleetdeck.cli.run_cmds, fleetdeck.cli"
    for label, modules in (("fleetdeck CLI", fleetdeck_modules), ("asyncssh alone", "asyncssh")):
        import_ms(env, modules)  # fill the cache
        cached = min(import_ms(env, modules) for _ in range(3))
        fresh = min(import_ms(uncached, modules) for _ in range(3))
        print(f"  {label:<15} {cached:6.0f} ms with cached bytecode, {fresh:6.0f} ms when the source tree has no .pyc")


def _key(entry: tuple[str, int, str]) -> str:
    file, line, func = entry
    for marker in ("site-packages/", "src/", "lib/python3.11/", "bench/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{file}:{line}({func})" if file != "~" else func


def profile_cpu(
    cmds: Mapping[str, tuple[str, str, list[str]]], env: dict[str, str], n: int, workdir: Path
) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for name, (kind, target, rest) in cmds.items():
        path = workdir / f"{name}.prof"
        m = run_measured([sys.executable, "-c", PROFILE_WRAPPER, str(path), kind, target, *rest], env=env, timeout=300)
        check(m.stdout, m.exit_code, n, f"{name} under cProfile")
        out[name] = path
    return out


def report_cprofile(profiles: Mapping[str, Path], n: int, top: int) -> None:
    own: dict[str, dict[str, float]] = {}
    cum: dict[str, dict[str, float]] = {}
    totals: dict[str, float] = {}
    for name, path in profiles.items():
        stats = pstats.Stats(str(path))
        entries = stats.stats  # type: ignore[attr-defined]
        own[name] = collections.defaultdict(float)
        cum[name] = collections.defaultdict(float)
        for entry, (_cc, _calls, tottime, cumtime, _callers) in entries.items():
            own[name][_key(entry)] += tottime
            cum[name][entry[2]] += cumtime
        totals[name] = stats.total_tt  # type: ignore[attr-defined]
    fd, ref = own["fleetdeck-exec"], own["asyncssh-min"]
    print(
        f"\n-- cProfile, main-thread CPU (profiler overhead included): fleetdeck {totals['fleetdeck-exec']:.2f}s, "
        f"reference {totals['asyncssh-min']:.2f}s"
    )
    print(f"  functions whose own CPU grew most (fleetdeck minus reference, top {top}):")
    diff = sorted(((fd.get(k, 0.0) - ref.get(k, 0.0), k) for k in set(fd) | set(ref)), reverse=True)
    for delta, key in diff[:top]:
        print(f"  {delta * 1000:+8.1f} ms  ({fd.get(key, 0.0) * 1000:7.1f} vs {ref.get(key, 0.0) * 1000:7.1f})  {key}")
    print("  cumulative CPU of selected fleetdeck functions:")
    for func in ("load_config", "prepare_command", "new_run_id", "handle", "flush", "close", "_host", "execute"):
        print(f"  {cum['fleetdeck-exec'].get(func, 0.0) * 1000:8.1f} ms  {func} (all functions of that name)")


def report_pyspy(name: str, raw: Path, rate: int) -> None:
    areas: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    idle = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if IDLE.search(frames[-1]):
            idle += count
            continue
        thread = re.sub(r"\s*\(\d+\)", "", frames[0]) if frames[0].startswith("thread") else "main"
        threads[re.sub(r"asyncio_\d+", "asyncio_N (executor)", thread)] += count
        area = next(
            (label for frame in reversed(frames) for label, pattern in AREAS if re.search(pattern, frame)), "other"
        )
        areas[area] += count
    busy = sum(areas.values())
    print(f"\n-- py-spy, {name}: {busy / rate:.2f}s of busy samples ({idle / rate:.2f}s parked samples left out)")
    for thread, count in threads.most_common():
        print(f"  {count / rate:6.2f}s  {thread}")
    for area, count in areas.most_common():
        print(f"  {count / rate:6.2f}s  {100 * count / max(busy, 1):5.1f}%  {area}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--keep", type=Path, help="copy the raw profiles into this directory")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix=f"fleetdeck-profile-n{args.hosts}-"))
    workdir.chmod(0o755)
    try:
        with SshFleet(workdir, args.hosts, ready_timeout=max(10.0, args.hosts / 20)) as fleet:
            files = write_peer_files(fleet, workdir / "peers")
            env = bench_env({"FLEETDECK_STATE": str(files.state_dir)})
            cmds = commands(files)
            for name, (kind, target, rest) in cmds.items():  # warm-up: page cache, bytecode
                m = run_measured(plain_argv(kind, target, rest), env=env, timeout=300)
                check(m.stdout, m.exit_code, args.hosts, f"{name} warm-up")
            report_totals(cmds, env, args.hosts, args.runs)
            report_imports(env)
            report_cprofile(profile_cpu(cmds, env, args.hosts, workdir), args.hosts, args.top)
            pyspy = shutil.which("py-spy", path=f"{BENCH_VENV / 'bin'}:{os.environ.get('PATH', '')}")
            if pyspy:
                for name, (kind, target, rest) in cmds.items():
                    raw = workdir / f"{name}.pyspy.txt"
                    spy = [pyspy, "record", "--format", "raw", "--threads", "--rate", str(args.rate), "-o", str(raw)]
                    m = run_measured([*spy, "--", *plain_argv(kind, target, rest)], env=env, timeout=300)
                    check(m.stdout, m.exit_code, args.hosts, f"{name} under py-spy")
                    report_pyspy(name, raw, args.rate)
            else:
                print("\n-- py-spy: not found; run bench/setup.sh to install it into bench/.venv")
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                for path in workdir.glob("*.prof"):
                    shutil.copy(path, args.keep / path.name)
                for path in workdir.glob("*.pyspy.txt"):
                    shutil.copy(path, args.keep / path.name)
                print(f"\nraw profiles copied to {args.keep}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
