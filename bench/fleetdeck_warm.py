"""The ``fleetdeck-warm`` variant: one long-lived Engine runs a command twice and times only the second run.

The first run is cold (connections are opened and pooled) and its output is discarded; the second runs
on the pooled connections, printing ``host | line`` to stdout like ``fleetdeck exec``. The timed part is
what re-running a command costs a long-lived process (the console): plan the command, take a run id,
run it with the CLI's printer and the store. The last stdout line is ``WARM_RESULT {json}`` with the wall
and CPU (``time.process_time``, every thread of this process) of that second run.

    python bench/fleetdeck_warm.py --config DIR --state DIR [--max-hosts 64] [-t all] -- COMMAND...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import TextIO

from fleetdeck.core.config import load_config
from fleetdeck.core.runner.runner import RunSummary
from fleetdeck.core.runner.service import Engine
from fleetdeck.core.runner.sinks import PrinterSink, ProgressLine

RESULT_MARK = "WARM_RESULT "


async def run_once(engine: Engine, command: str, selector: str, out: TextIO) -> RunSummary:
    prepared = engine.prepare_command(command, selector, run_id=engine.new_run_id())
    progress = ProgressLine(sys.stderr)
    return await engine.run(prepared, [PrinterSink(out, sys.stderr, progress=progress), progress])


def ok_count(summary: RunSummary) -> int:
    return len(summary.hosts_with("ok"))


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    command = " ".join(args.command)
    engine = Engine(load_config(Path(args.config)), state=Path(args.state), max_hosts=args.max_hosts)
    try:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        with Path("/dev/null").open("w") as devnull:
            cold = await run_once(engine, command, args.targets, devnull)
        wall1, cpu1 = time.perf_counter(), time.process_time()
        warm = await run_once(engine, command, args.targets, sys.stdout)
        wall2, cpu2 = time.perf_counter(), time.process_time()
    finally:
        await engine.close()
    return {
        "hosts": len(cold.statuses),
        "cold_ok": ok_count(cold),
        "cold_exit": cold.exit_code,
        "cold_wall_s": wall1 - wall0,
        "cold_cpu_s": cpu1 - cpu0,
        "warm_ok": ok_count(warm),
        "warm_exit": warm.exit_code,
        "warm_wall_s": wall2 - wall1,
        "warm_cpu_s": cpu2 - cpu1,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config", required=True, metavar="DIR")
    parser.add_argument("--state", required=True, metavar="DIR")
    parser.add_argument("--max-hosts", type=int, default=64)
    parser.add_argument("-t", "--targets", default="all", metavar="SELECTOR")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    result = asyncio.run(main_async(args))
    sys.stdout.flush()
    print(RESULT_MARK + json.dumps(result), flush=True)
    return int(result["warm_exit"] != 0 or result["cold_exit"] != 0)


if __name__ == "__main__":
    raise SystemExit(main())
