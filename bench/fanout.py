"""Benchmark: one command (``uptime``) on N loopback SSH hosts, fleetdeck against a minimal asyncssh client and
the usual fan-out tools.

For each size N a real OpenSSH fleet (``tests/fleet.py``: N loopback addresses, ceil(N/16) sshd shards) is
started, every variant runs the command on all N hosts, and the fleet is stopped. Variants (``peers.py``):

- ``asyncssh-min``: ``ref_asyncssh.py``, connect/run/close per host, 64 in flight: the reference of all ratios;
- ``fleetdeck-exec``: ``fleetdeck exec -t all --max-hosts 64 -- uptime``, a cold process;
- ``fleetdeck-warm``: one Engine runs the command, then again on its pooled connections; only the second
  run is timed, inside that process (``fleetdeck_warm.py``);
- ``xargs-ssh``, ``parallel-ssh``, ``pdsh``, ``clush`` (OpenSSH, fan-out 64) and ``ansible-raw`` (``-f 50``),
  all with strict host key checking and ``KexAlgorithms curve25519-sha256``, the kex asyncssh negotiates.

Runs alternate round-robin (a warm-up round first, not counted; the order rotates each round). Each run
records wall time, client CPU (user+sys of the child and everything it waited for, from ``wait4``), peak
RSS (``ru_maxrss`` of the child tree, read through GNU time when installed: see ``measure.py``) and the
fleet's sshd CPU, and is OK only if it exited 0 and printed exactly N lines containing "load average".
Medians of the OK runs go in a table per N; failed runs are listed as FAILED. Raw records go to
``bench/results/fanout-*.jsonl``. Missing tools are skipped with a line saying how to install them
(``bench/setup.sh``; run automatically when root unless ``--no-setup``). Python variants cache their
bytecode even when the shell sets ``PYTHONDONTWRITEBYTECODE`` (``peers.bench_env``).
``bench/profile_exec.py`` shows where a cold ``fleetdeck exec`` spends its CPU next to the reference.

    .venv/bin/python bench/fanout.py --sizes 50 200 500 --runs 3
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from measure import box_busy_s, rss_floor_mb, run_measured, tree_cpu_s, wait_children_gone
from peers import ALL_VARIANTS, BENCH_DIR, REFERENCE, Variant, bench_env, variants, write_peer_files

REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO / "tests"))
from fleet import SshFleet  # noqa: E402  (tests/ is not a package)

RESULTS_DIR = BENCH_DIR / "results"
SUCCESS_MARK = "load average"
WARM_MARK = "WARM_RESULT "
TARGET_WALL_RATIO = 1.05
TARGET_CPU_RATIO = 1.0
TARGET_WARM_SPEEDUP = 5.0
TARGET_SIZES = (200, 500)


@dataclass(slots=True)
class RunRecord:
    """One measured run of one variant."""

    n: int
    variant: str
    round: int  # 0 is the warm-up
    ok: bool
    wall_s: float
    cpu_s: float
    user_s: float
    sys_s: float
    maxrss_mb: float
    sshd_cpu_s: float
    box_busy_s: float
    exit_code: int
    load_lines: int
    problem: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def count_success_lines(stdout: str) -> int:
    return sum(1 for line in stdout.splitlines() if SUCCESS_MARK in line)


def measure_variant(
    variant: Variant, n: int, round_no: int, sshd_pids: Sequence[int], cwd: Path, *, bytecode_cache: bool = True
) -> RunRecord:
    """Run one variant once against the fleet and judge the run."""
    env = bench_env(variant.env, bytecode_cache=bytecode_cache)
    sshd0, box0 = tree_cpu_s(sshd_pids), box_busy_s()
    measured = run_measured(variant.argv, env=env, cwd=cwd, timeout=max(120.0, 1.0 * n))
    wait_children_gone(sshd_pids)  # the server side of this run, teardown included
    sshd1, box1 = tree_cpu_s(sshd_pids), box_busy_s()
    problems = []
    stdout = measured.stdout
    extra: dict[str, Any] = {}
    wall, cpu = measured.wall_s, measured.cpu_s
    if variant.reports_own_timing:
        lines = stdout.splitlines()
        found = [line for line in lines if line.startswith(WARM_MARK)]
        if found:
            extra = json.loads(found[-1][len(WARM_MARK) :])
            extra["process_wall_s"], extra["process_cpu_s"] = wall, cpu
            wall, cpu = extra["warm_wall_s"], extra["warm_cpu_s"]
            if extra.get("cold_ok") != n:
                problems.append(f"cold run: {extra.get('cold_ok')}/{n} hosts ok")
            stdout = "\n".join(line for line in lines if not line.startswith(WARM_MARK))
        else:
            problems.append("no WARM_RESULT line")
    load_lines = count_success_lines(stdout)
    if measured.timed_out:
        problems.append("timed out")
    if measured.exit_code != 0:
        problems.append(f"exit code {measured.exit_code}")
    if load_lines != n:
        problems.append(f"{load_lines}/{n} '{SUCCESS_MARK}' lines")
    if problems:
        tail = " | ".join(measured.stderr.strip().splitlines()[-3:])
        if tail:
            problems.append(f"stderr: {tail[:300]}")
    return RunRecord(
        n=n,
        variant=variant.name,
        round=round_no,
        ok=not problems,
        wall_s=wall,
        cpu_s=cpu,
        user_s=measured.user_s,
        sys_s=measured.sys_s,
        maxrss_mb=measured.maxrss_mb,
        sshd_cpu_s=sshd1 - sshd0,
        box_busy_s=box1 - box0,
        exit_code=measured.exit_code,
        load_lines=load_lines,
        problem="; ".join(problems) or None,
        extra=extra,
    )


# -- reporting -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Summary:
    """Medians of one variant's OK runs at one size."""

    variant: str
    runs: int
    ok_runs: int
    wall_s: float | None
    cpu_s: float | None
    maxrss_mb: float | None
    sshd_cpu_s: float | None


def summarize(name: str, records: Sequence[RunRecord]) -> Summary:
    ok = [r for r in records if r.ok]

    def med(values: Iterable[float]) -> float | None:
        data = list(values)
        return statistics.median(data) if data else None

    return Summary(
        name,
        len(records),
        len(ok),
        med(r.wall_s for r in ok),
        med(r.cpu_s for r in ok),
        med(r.maxrss_mb for r in ok),
        None if name == "fleetdeck-warm" else med(r.sshd_cpu_s for r in ok),
    )


def _num(value: float | None, fmt: str) -> str:
    """``value`` formatted, or a dash padded to the same width when there is none."""
    if value is None:
        width = fmt.split(".", 1)[0]
        return format("-", f">{width}") if width else "-"
    return format(value, fmt)


def _ratio(value: float | None, ref: float | None) -> float | None:
    return value / ref if value is not None and ref else None


def render_table(n: int, summaries: Sequence[Summary], skipped: Sequence[tuple[str, str]]) -> list[str]:
    """The printed table for one size, with the ratios and the targets below it."""
    by_name = {s.variant: s for s in summaries}
    ref = by_name.get(REFERENCE)
    ref_wall = ref.wall_s if ref else None
    ref_cpu = ref.cpu_s if ref else None
    header = (
        f"{'variant':<16} {'runs ok':>7} {'wall s':>8} {'CPU s':>7} {'CPU ms/host':>11} {'peak RSS MB':>11} "
        f"{'sshd CPU s':>10} {'wall/ref':>8} {'CPU/ref':>7}"
    )
    lines = [f"N = {n}  (medians of OK runs; ref = {REFERENCE})", header, "-" * len(header)]
    for s in summaries:
        status = f"{s.ok_runs}/{s.runs}" if s.ok_runs == s.runs else f"FAILED {s.runs - s.ok_runs}/{s.runs}"
        per_host = s.cpu_s * 1000 / n if s.cpu_s is not None else None
        lines.append(
            f"{s.variant:<16} {status:>7} {_num(s.wall_s, '8.2f')} {_num(s.cpu_s, '7.2f')} "
            f"{_num(per_host, '11.1f')} {_num(s.maxrss_mb, '11.0f')} {_num(s.sshd_cpu_s, '10.2f')} "
            f"{_num(_ratio(s.wall_s, ref_wall), '8.2f')} {_num(_ratio(s.cpu_s, ref_cpu), '7.2f')}"
        )
    for name, why in skipped:
        lines.append(f"{name:<16} skipped: {why}")
    exec_ = by_name.get("fleetdeck-exec")
    warm = by_name.get("fleetdeck-warm")
    if exec_ and warm and exec_.wall_s and warm.wall_s:
        speedup = exec_.wall_s / warm.wall_s
        cpu_speedup = _ratio(exec_.cpu_s, warm.cpu_s)
        verdict = "met" if speedup >= TARGET_WARM_SPEEDUP else "NOT met"
        lines.append(
            f"warm vs cold: fleetdeck-exec wall / fleetdeck-warm wall = {speedup:.1f}x "
            f"(CPU {_num(cpu_speedup, '.1f')}x); target >= {TARGET_WARM_SPEEDUP:g}x: {verdict}"
        )
    if exec_ and exec_.wall_s and ref_wall and exec_.cpu_s is not None and ref_cpu:
        wall_r, cpu_r = exec_.wall_s / ref_wall, exec_.cpu_s / ref_cpu
        scope = "" if n in TARGET_SIZES else f" (targets apply at N = {' and '.join(map(str, TARGET_SIZES))})"
        lines.append(
            f"fleetdeck-exec vs {REFERENCE}: wall {wall_r:.2f}x (target <= {TARGET_WALL_RATIO:g}x: "
            f"{'met' if wall_r <= TARGET_WALL_RATIO else 'NOT met'}), CPU {cpu_r:.2f}x "
            f"(target <= {TARGET_CPU_RATIO:g}x: {'met' if cpu_r <= TARGET_CPU_RATIO else 'NOT met'}){scope}"
        )
    return lines


def machine_info() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    ssh_v = subprocess.run(["ssh", "-V"], capture_output=True, text=True, check=False).stderr.strip()
    try:
        asyncssh_v = importlib.metadata.version("asyncssh")  # not imported: the harness stays small
    except importlib.metadata.PackageNotFoundError:
        asyncssh_v = "?"
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "openssh": ssh_v,
        "asyncssh": asyncssh_v,
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }


def ensure_tools(chosen: Sequence[Variant], allow_setup: bool) -> bool:
    """Run setup.sh when a peer is missing and we may (root, not --no-setup); True when it ran."""
    missing = [v.name for v in chosen if v.missing]
    if not missing:
        return False
    if not allow_setup or os.geteuid() != 0:
        print(f"missing: {', '.join(missing)}; to include them run: sudo {BENCH_DIR / 'setup.sh'}")
        return False
    print(f"missing: {', '.join(missing)}; running {BENCH_DIR / 'setup.sh'}", flush=True)
    subprocess.run(["bash", str(BENCH_DIR / "setup.sh")], check=False)
    return True


# -- main ------------------------------------------------------------------------------------------


def bench_size(
    n: int, args: argparse.Namespace, out: Any, allow_setup: bool
) -> tuple[list[str], list[Summary], list[RunRecord]]:
    """Start a fleet of ``n`` hosts, run every round, stop the fleet; returns the table lines."""
    workdir = Path(tempfile.mkdtemp(prefix=f"fleetdeck-fanout-n{n}-"))
    workdir.chmod(0o755)
    fleet = SshFleet(workdir, n, ready_timeout=max(10.0, n / 20))
    records: list[RunRecord] = []
    try:
        started = time.perf_counter()
        fleet.start()
        print(f"\n== N = {n}: {fleet.n_shards} sshd shards up in {time.perf_counter() - started:.1f}s", flush=True)
        files = write_peer_files(fleet, workdir / "peers")
        chosen = variants(files, args.command, args.variants)
        if ensure_tools(chosen, allow_setup):
            chosen = variants(files, args.command, args.variants)
        skipped = [(v.name, v.missing) for v in chosen if v.missing]
        for name, why in skipped:
            print(f"  skip {name}: {why}")
        runnable = [v for v in chosen if not v.missing]
        first_round = 1 if args.no_warmup else 0
        for round_no in range(first_round, args.runs + 1):
            shift = round_no % len(runnable) if runnable else 0
            for variant in runnable[shift:] + runnable[:shift]:
                wait_children_gone(fleet.pids)
                time.sleep(args.pause)
                record = measure_variant(
                    variant, n, round_no, fleet.pids, workdir, bytecode_cache=not args.no_bytecode_cache
                )
                records.append(record)
                out.write(json.dumps({"type": "run", **asdict(record)}) + "\n")
                out.flush()
                label = "warm-up" if round_no == 0 else f"run {round_no}"
                status = "ok" if record.ok else f"FAILED: {record.problem}"
                print(
                    f"  [{label:>7}] {variant.name:<15} wall {record.wall_s:7.2f}s  cpu {record.cpu_s:6.2f}s  "
                    f"rss {record.maxrss_mb:5.0f}MB  sshd {record.sshd_cpu_s:6.2f}s  {status}",
                    flush=True,
                )
        counted = [r for r in records if r.round > 0]
        summaries = [summarize(v.name, [r for r in counted if r.variant == v.name]) for v in runnable]
        for s in summaries:
            out.write(json.dumps({"type": "summary", "n": n, **asdict(s)}) + "\n")
        return render_table(n, summaries, [(name, why or "") for name, why in skipped]), summaries, records
    finally:
        fleet.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 500], metavar="N")
    parser.add_argument("--runs", type=int, default=3, help="counted runs per variant (default 3)")
    parser.add_argument(
        "--variants", nargs="+", default=list(ALL_VARIANTS), metavar="NAME", help=f"subset of {', '.join(ALL_VARIANTS)}"
    )
    parser.add_argument("--command", default="uptime", help="the command every variant runs (default uptime)")
    parser.add_argument("--no-warmup", action="store_true", help="skip the uncounted warm-up round")
    parser.add_argument("--no-setup", action="store_true", help="never run setup.sh for missing tools")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="keep the shell's PYTHONDONTWRITEBYTECODE for the variants (default: cache bytecode, see peers.bench_env)",
    )
    parser.add_argument("--pause", type=float, default=0.5, help="seconds of quiet before each run (default 0.5)")
    args = parser.parse_args(argv)
    if REFERENCE not in args.variants:
        args.variants.insert(0, REFERENCE)
    unknown = sorted(set(args.variants) - set(ALL_VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s): {', '.join(unknown)}")

    RESULTS_DIR.mkdir(exist_ok=True)
    results = RESULTS_DIR / f"fanout-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    info = machine_info()
    print(
        f"fan-out bench: '{args.command}' on N = {', '.join(map(str, args.sizes))} loopback hosts, "
        f"{args.runs} runs{'' if args.no_warmup else ' + 1 warm-up'}, round-robin"
    )
    print(
        f"machine: {info['cpus']} CPUs ({info['cpu']}), Linux {info['kernel']}, Python {info['python']}, "
        f"{info['openssh']}, asyncssh {info['asyncssh']}, load {' '.join(info['loadavg'])}"
    )
    if args.no_bytecode_cache:
        setting = os.environ.get("PYTHONDONTWRITEBYTECODE", "")
        print(f"bytecode: as the shell says (PYTHONDONTWRITEBYTECODE={setting!r})")
    else:
        print("bytecode: variants cache it under bench/results/pycache (filled by the warm-up round)")
    print(f"raw records: {results}")
    tables: list[list[str]] = []
    all_ok = True
    with results.open("w") as out:
        out.write(json.dumps({"type": "meta", "args": vars(args), **info}) + "\n")
        allow_setup = not args.no_setup
        for n in args.sizes:
            lines, summaries, _records = bench_size(n, args, out, allow_setup)
            allow_setup = False  # tried once is enough
            all_ok &= all(s.ok_runs == s.runs for s in summaries)
            tables.append(lines)
        # Children are forked from this process, so none can show a ru_maxrss below its peak RSS.
        floor = rss_floor_mb()
        out.write(json.dumps({"type": "rss_floor", "mb": floor}) + "\n")
    print(
        f"\nCPU = user+sys of the client process tree (wait4); peak RSS = largest single process (ru_maxrss, "
        f"floor {floor:.0f} MB for anything started from this harness); sshd CPU = the whole server side of the "
        "run, remote commands included. fleetdeck-warm: wall and CPU of the second run inside its process; "
        "its RSS covers both runs."
    )
    for lines in tables:
        print()
        print("\n".join(lines))
    print(f"\nraw records: {results}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
