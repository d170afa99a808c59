"""Canned data for the dashboard tests: an inventory, a health board with history, and a console context.

Everything is deterministic: samples carry fixed times around `NOW`, the context's clock is frozen at
`NOW`, and there is no collector, so the tests decide when the board changes (by adding samples, which
the dashboard picks up on its next drain).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from textual.pilot import Pilot

from fleetdeck.core.health import FsUsage, HealthSample
from fleetdeck.core.health.board import HealthBoard
from fleetdeck.core.health.top import ProcessInfo, SortKey
from fleetdeck.core.inventory import Group, Host, Inventory
from fleetdeck.ui.app import FleetdeckApp
from fleetdeck.ui.context import ConsoleContext
from fleetdeck.ui.screens.dashboard import DashboardScreen
from fleetdeck.ui.widgets.host_table import FleetTable

NOW = 1_700_000_000.0
GIB = 1024**3


def canned(host: str, **changes: Any) -> HealthSample:
    """A plausible healthy sample taken at `NOW`; `changes` override single fields."""
    sample = HealthSample(
        host=host,
        time=NOW,
        status="up",
        cpu_pct=37.0,
        cpu_user_pct=25.0,
        cpu_system_pct=10.0,
        cpu_iowait_pct=2.0,
        cpu_steal_pct=0.0,
        load1=1.25,
        load5=0.9,
        load15=0.5,
        cores=8,
        mem_used_pct=45.0,
        mem_total_bytes=16 * GIB,
        mem_available_bytes=int(8.8 * GIB),
        swap_used_pct=None,
        filesystems=(
            FsUsage("/", "ext4", 100 * GIB, 40 * GIB, 40.0, 12.5),
            FsUsage("/var", "xfs", 500 * GIB, 300 * GIB, 60.0, None),
        ),
        net_rx_bps=1_500_000.0,
        net_tx_bps=2048.0,
        disk_read_bps=0.0,
        disk_write_bps=4096.0,
        uptime_s=3 * 86_400 + 4 * 3_600 + 120,
        procs=212,
        kernel="6.1.0-18-amd64",
        os_name="Debian GNU/Linux 12 (bookworm)",
        cpu_per_core_pct=(12.0, 30.0, 55.0, 41.0, 68.0, 88.0, 93.0, 5.0),
    )
    return replace(sample, **changes)


def host(name: str, groups: Sequence[str] = (), **tags: str) -> Host:
    return Host(name=name, address=f"{name}.example.net", user="ops", groups=tuple(groups), tags=dict(tags))


def inventory_of(hosts: Iterable[Host]) -> Inventory:
    hosts = list(hosts)
    names = sorted({group for h in hosts for group in h.groups})
    groups = {g: Group(g, {}, (), tuple(h.name for h in hosts if g in h.groups)) for g in names}
    return Inventory(hosts, groups)


FLEET = (
    host("web-1", ["web"], dc="fra1"),
    host("web-2", ["web"], dc="fra1"),
    host("db-1", ["db"], dc="ams1"),
    host("db-2", ["db"], dc="ams1"),
    host("cache-1", ["cache"], dc="fra1"),
)


def fleet_samples() -> list[HealthSample]:
    """The latest sample of each fleet host: healthy, busy, a full disk, stale, and down."""
    return [
        canned("web-1"),
        canned("web-2", cpu_pct=93.0, mem_used_pct=74.0, load1=17.5, net_rx_bps=None),
        canned("db-1", filesystems=(FsUsage("/", "ext4", 100 * GIB, 95 * GIB, 95.0, 3.0),), cpu_pct=12.0),
        canned("cache-1", status="stale", time=NOW - 9, reason="cache-1: no health data for 9s"),
        HealthSample("db-2", NOW - 30, "down", reason="db-2: connection refused"),
    ]


def history(
    name: str, minutes: float = 10, step: float = 2.0, shape: Callable[[int], float] | None = None
) -> list[HealthSample]:
    """Samples of `name` over the last `minutes`, CPU following `shape(i)`, ending just before `NOW`."""
    count = int(minutes * 60 / step)
    phase = sum(map(ord, name))  # each host its own rhythm, the same on every run
    wave = shape or (lambda i: 10 + (phase % 30) + 15 * (((i + phase) // (10 + phase % 9)) % 4))
    return [
        canned(name, time=NOW - (count - i) * step, cpu_pct=wave(i), mem_used_pct=40 + (i % 30) / 3,
               net_rx_bps=1000.0 * (i % 50), net_tx_bps=500.0 * (i % 20), load1=0.5 + (i % 40) / 10)
        for i in range(count)
    ]  # fmt: skip


def fleet_board(with_history: bool = True) -> HealthBoard:
    board = HealthBoard([h.name for h in FLEET], interval_s=2.0, window_s=600.0)
    if with_history:
        for name in ("web-1", "web-2", "db-1", "cache-1"):
            for sample in history(name):
                board.add(sample)
    for sample in fleet_samples():
        board.add(sample)
    return board


class FakeTop:
    """A `top` that answers from a table, or raises what `failing` holds; records its calls."""

    def __init__(self, failing: Exception | None = None) -> None:
        self.calls: list[tuple[str, SortKey]] = []
        self.failing = failing

    async def __call__(self, name: str, key: SortKey) -> list[ProcessInfo]:
        self.calls.append((name, key))
        await asyncio.sleep(0)
        if self.failing is not None:
            raise self.failing
        rows = [
            ProcessInfo(4242, "postgres", 81.5, 12.0, 2 * GIB, "postgres: checkpointer"),
            ProcessInfo(1337, "www-data", 12.0, 30.5, 5 * GIB, "nginx: worker process"),
        ]
        return sorted(rows, key=lambda p: p.cpu_pct if key == "cpu" else p.mem_pct, reverse=True)


def make_context(
    board: HealthBoard | None = None,
    *,
    top: FakeTop | None = None,
    collect: Callable[[], Awaitable[None]] | None = None,
    inventory: Inventory | None = None,
) -> ConsoleContext:
    return ConsoleContext(
        inventory=inventory or inventory_of(FLEET),
        board=board if board is not None else fleet_board(),
        top=top,
        collect=collect,
        clock=lambda: NOW,
    )


def make_app(context: ConsoleContext | None = None) -> FleetdeckApp:
    return FleetdeckApp(context or make_context())


async def until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the app run until `condition` holds, failing after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await pilot.pause(0.02)


def dashboard(pilot: Pilot[Any]) -> DashboardScreen:
    screen = pilot.app.screen
    assert isinstance(screen, DashboardScreen)
    return screen


def table(pilot: Pilot[Any]) -> FleetTable:
    return pilot.app.screen.query_one(FleetTable)


def cell(pilot: Pilot[Any], name: str, column: str) -> str:
    """A cell's text with padding collapsed, e.g. `37% ▃▄` for a CPU cell with its trend."""
    return " ".join(table(pilot).get_cell(name, column).plain.split())


async def ready(pilot: Pilot[Any]) -> None:
    """Wait for the dashboard to show every host the board has a sample for."""
    await until(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen))
    app = pilot.app
    assert isinstance(app, FleetdeckApp)
    board = app.context.board
    await until(pilot, lambda: all(table(pilot).sample_for(h) for h in board.latest))
    await pilot.pause()
