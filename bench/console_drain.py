"""Time the dashboard's drain: every host changed, applied to the fleet table in one batch.

Runs the real console app headless on a canned health board (1,000 hosts by default, each with two
minutes of history so the CPU trend is computed as in the live console), then repeatedly gives every
host a new sample and times one drain. Prints the median, best and worst milliseconds for the drain
itself (board to table cells: what blocks the event loop) and for the repaint that follows it (Textual
redrawing the rows in view), each as wall time and as CPU time (less sensitive to a busy machine).

    python bench/console_drain.py [--hosts 1000] [--drains 40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import replace

from fleetdeck.core.health import FsUsage, HealthSample
from fleetdeck.core.health.board import HealthBoard
from fleetdeck.core.inventory import Group, Host, Inventory
from fleetdeck.ui.app import FleetdeckApp
from fleetdeck.ui.context import ConsoleContext
from fleetdeck.ui.screens.dashboard import DashboardScreen

GIB = 1024**3
START = 1_700_000_000.0
STEP_S = 2.0


def sample(name: str, tick: int, index: int) -> HealthSample:
    """A sample whose numbers move every tick, so every cell of every row changes."""
    phase = (tick * 7 + index * 13) % 100
    return HealthSample(
        host=name,
        time=START + tick * STEP_S,
        status="up",
        cpu_pct=float(phase),
        cpu_user_pct=phase * 0.7,
        cpu_system_pct=phase * 0.3,
        cpu_iowait_pct=0.0,
        cpu_steal_pct=0.0,
        load1=phase / 25,
        load5=1.0,
        load15=1.0,
        cores=8,
        mem_used_pct=float((phase * 3) % 100),
        mem_total_bytes=16 * GIB,
        mem_available_bytes=8 * GIB,
        filesystems=(FsUsage("/", "ext4", 100 * GIB, 40 * GIB, float(40 + tick % 50), 10.0),),
        net_rx_bps=1000.0 * (phase + 1),
        net_tx_bps=700.0 * (phase + 1),
        uptime_s=86_400.0 + tick * STEP_S,
        procs=200,
        kernel="6.1.0",
        os_name="Debian GNU/Linux 12",
        cpu_per_core_pct=(float(phase),) * 8,
    )


def context_for(count: int, history_ticks: int) -> ConsoleContext:
    names = [f"node-{index:04d}" for index in range(count)]
    hosts = [Host(name, f"{name}.example.net", "ops", groups=("fleet",)) for name in names]
    inventory = Inventory(hosts, {"fleet": Group("fleet", {}, (), tuple(names))})
    board = HealthBoard(names, interval_s=STEP_S)
    for tick in range(history_ticks):
        for index, name in enumerate(names):
            board.add(sample(name, tick, index))
    return ConsoleContext(inventory=inventory, board=board, clock=lambda: START)


async def measure(count: int, drains: int) -> dict[str, list[float]]:
    history_ticks = 60
    context = context_for(count, history_ticks)
    app = FleetdeckApp(context)
    timings: dict[str, list[float]] = {"drain": [], "drain cpu": [], "repaint": [], "repaint cpu": []}
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause(0.5)
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        names = list(context.board.hosts)
        for tick in range(history_ticks, history_ticks + drains):
            for index, name in enumerate(names):
                context.board.add(sample(name, tick, index))
            started, started_cpu = time.perf_counter(), time.process_time()
            drained = screen.drain()
            applied, applied_cpu = time.perf_counter(), time.process_time()
            await pilot.pause()
            repainted, repainted_cpu = time.perf_counter(), time.process_time()
            assert drained == count, f"drained {drained} hosts, expected {count}"
            timings["drain"].append((applied - started) * 1000)
            timings["drain cpu"].append((applied_cpu - started_cpu) * 1000)
            timings["repaint"].append((repainted - applied) * 1000)
            timings["repaint cpu"].append((repainted_cpu - applied_cpu) * 1000)
        # The last drain really reached the table.
        last = replace(sample(names[0], history_ticks + drains - 1, 0))
        assert screen.table.sample_for(names[0]) == last
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--drains", type=int, default=40)
    args = parser.parse_args()
    timings = asyncio.run(measure(args.hosts, args.drains))
    print(f"console drain, {args.hosts} hosts all changed, {args.drains} drains")
    for label, values in timings.items():
        median, best, worst = statistics.median(values), min(values), max(values)
        print(f"  {label:<11} median {median:7.1f} ms   min {best:7.1f} ms   max {worst:7.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
