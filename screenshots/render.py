"""Render SVG screenshots of the console's main screens in every bundled theme.

The app runs headless (`App.run_test`) against canned, deterministic health data: a board of eight hosts in
every state the dashboard distinguishes (ok, warn, crit, stale, down) with ten minutes of history, and a
clock frozen at a fixed instant. Tasks, runs and history come from a real `Engine` on a temporary copy of
the bundled `configs/`, with `FLEETDECK_STATE` pointed at a temporary directory; one quick local task
(`disk-usage` on localhost) is run through the engine first so the run view and the history have an entry.

Writes `screenshots/<screen>-<theme>.svg` for the dashboard, tasks, run view, gathered view, history, help and
automation screens at 120x35, plus `screenshots/dashboard-80x24.svg` in the default theme. The gathered view's run goes
over five local hosts and one unreachable one, appended to the temporary config.

Usage: `.venv/bin/python screenshots/render.py` (or `make screenshots`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from fleetdeck.core.config import load_config
from fleetdeck.core.health import FsUsage, HealthSample
from fleetdeck.core.health.board import HealthBoard
from fleetdeck.core.inventory import Group, Host, Inventory
from fleetdeck.core.paths import bundled_configs_dir, bundled_themes_dir
from fleetdeck.core.runner.service import Engine
from fleetdeck.ui.app import FleetdeckApp
from fleetdeck.ui.automation_feed import AutomationFeed
from fleetdeck.ui.context import HISTORY_WINDOW_S, ConsoleContext
from fleetdeck.ui.run_bridge import RunBridge
from fleetdeck.ui.screens.automation import AutomationScreen
from fleetdeck.ui.screens.dashboard import DashboardScreen
from fleetdeck.ui.screens.help import HelpScreen
from fleetdeck.ui.screens.history import HistoryScreen
from fleetdeck.ui.screens.run import RunScreen, start_run
from fleetdeck.ui.screens.tasks import TasksScreen
from fleetdeck.ui.themes import DEFAULT_THEME
from fleetdeck.ui.widgets.host_table import FleetTable

OUT_DIR = Path(__file__).resolve().parent
SIZE = (120, 35)
SMALL_SIZE = (80, 24)
GIB = 1024**3
THEMES = ("fleetdeck-dark", "fleetdeck-light", "high-contrast", "ansi")
SCREENS = ("dashboard", "tasks", "run", "gathered", "history", "help", "automation")
TASK = "disk-usage"
GATHER_TARGETS = "app-[1-6]"
GATHER_COMMAND = "uname -sr; df -P / | awk 'NR == 2 {print $6, $5}'"
EXTRA_HOSTS = """
# Added by screenshots/render.py for the gathered view.
[hosts."app-[1-5]"]
transport = "local"

[hosts.app-6]
address = "127.0.0.1"
port = 9
connect_timeout = 3
"""
"""Hosts appended to the temporary copy of configs/hosts.toml: five local ones and one whose port is closed."""
DETAIL_ROW = 6
"""Rows below the first (hosts sorted by name) the dashboard's cursor is moved to: web-2."""
CLOCK_LAG_S = 90.0
"""How long after the real task run the frozen clock stands, so the history reads "a minute or so ago"."""


# -- canned health -------------------------------------------------------------------------------------


def _host(name: str, groups: Sequence[str], **tags: str) -> Host:
    return Host(name=name, address=f"{name}.example.net", user="ops", groups=tuple(groups), tags=dict(tags))


FLEET = (
    _host("web-1", ["web"], dc="fra1"),
    _host("web-2", ["web"], dc="fra1"),
    _host("web-3", ["web"], dc="ams1"),
    _host("db-1", ["db"], dc="ams1"),
    _host("db-2", ["db"], dc="ams1"),
    _host("cache-1", ["cache"], dc="fra1"),
    _host("queue-1", ["queue"], dc="fra1"),
    _host("batch-1", ["batch"], dc="ams1"),
)


def _inventory(hosts: Iterable[Host]) -> Inventory:
    hosts = list(hosts)
    names = sorted({group for h in hosts for group in h.groups})
    groups = {g: Group(g, {}, (), tuple(h.name for h in hosts if g in h.groups)) for g in names}
    return Inventory(hosts, groups)


def _sample(host: str, now: float, **changes: Any) -> HealthSample:
    """A plausible healthy sample taken at `now`; `changes` override single fields."""
    sample = HealthSample(
        host=host,
        time=now,
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


def _latest(now: float) -> list[HealthSample]:
    """The latest sample of each host: healthy, warning, critical, stale and down."""
    return [
        _sample("web-1", now),
        _sample("web-2", now, cpu_pct=93.0, mem_used_pct=74.0, load1=17.5, net_rx_bps=None),
        _sample("web-3", now, cpu_pct=76.0, load1=9.2, mem_used_pct=52.0),
        _sample("db-1", now, cpu_pct=12.0, filesystems=(FsUsage("/", "ext4", 100 * GIB, 95 * GIB, 95.0, 3.0),)),
        _sample("db-2", now, cpu_pct=22.0, mem_used_pct=81.0, load1=2.1),
        _sample("cache-1", now - 9, status="stale", reason="cache-1: no health data for 9s"),
        _sample("queue-1", now, cpu_pct=8.0, mem_used_pct=31.0, load1=0.3, procs=148),
        HealthSample("batch-1", now - 30, "down", reason="batch-1: connection refused"),
    ]


def _history(name: str, now: float, minutes: float = 10, step: float = 2.0) -> list[HealthSample]:
    """Samples of `name` over the last `minutes`, each host with its own fixed rhythm, ending before `now`."""
    count = int(minutes * 60 / step)
    phase = sum(map(ord, name))

    def wave(i: int) -> float:
        return 10 + (phase % 30) + 15 * (((i + phase) // (10 + phase % 9)) % 4)

    return [
        _sample(name, now - (count - i) * step, cpu_pct=wave(i), mem_used_pct=40 + (i % 30) / 3,
                net_rx_bps=1000.0 * (i % 50), net_tx_bps=500.0 * (i % 20), load1=0.5 + (i % 40) / 10)
        for i in range(count)
    ]  # fmt: skip


def canned_board(now: float) -> HealthBoard:
    board = HealthBoard([h.name for h in FLEET], interval_s=2.0, window_s=HISTORY_WINDOW_S)
    for name in ("web-1", "web-2", "web-3", "db-1", "db-2", "cache-1", "queue-1"):
        for sample in _history(name, now):
            board.add(sample)
    for sample in _latest(now):
        board.add(sample)
    return board


# -- helpers --------------------------------------------------------------------------------------------


async def until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Let the app run until `condition` holds; raise after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("the console did not reach the expected state in time")
        await pilot.pause(0.02)


async def settle(pilot: Pilot[Any]) -> None:
    """Let pending refreshes land, and stop cursors blinking, so the capture is stable."""
    await pilot.pause(0.2)
    for widget in pilot.app.screen.query("Input"):
        widget.cursor_blink = False  # type: ignore[attr-defined]
    await pilot.pause()


def save(app: FleetdeckApp, name: str) -> Path:
    app.save_screenshot(filename=f"{name}.svg", path=str(OUT_DIR))
    path = OUT_DIR / f"{name}.svg"
    print(f"wrote {path.relative_to(OUT_DIR.parent)}")
    return path


def make_app(engine: Engine, config_dir: Path, clock: float, theme: str) -> FleetdeckApp:
    config = engine.config
    context = ConsoleContext(
        inventory=_inventory(FLEET),
        board=canned_board(clock),
        engine=engine,
        config_dir=config_dir,
        clock=lambda: clock,
        automation=AutomationFeed(
            config.schedules,
            engine.store.state_dir,
            remediation=config.remediation,
            task_targets={name: task.targets for name, task in config.tasks.items()},
            config_dir=config_dir,
        ),
    )
    app = FleetdeckApp(context, theme=theme, state_dir=None)
    app.sub_title = "configs"
    return app


async def dashboard_ready(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, FleetdeckApp)
    board = app.context.board
    await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
    await until(pilot, lambda: all(app.screen.query_one(FleetTable).sample_for(h) for h in board.latest))
    # Put the cursor on a busy host, so the detail pane shows its graphs rather than a down host's dashes.
    await pilot.press(*["down"] * DETAIL_ROW)
    await settle(pilot)


async def back_to_dashboard(pilot: Pilot[Any]) -> None:
    await pilot.press("escape")
    await until(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen))


# -- rendering ------------------------------------------------------------------------------------------


async def render_theme(engine: Engine, config_dir: Path, clock: float, theme: str) -> list[Path]:
    """Every main screen in `theme`; the dashboard's task run shows in the run view."""
    app = make_app(engine, config_dir, clock, theme)
    written: list[Path] = []
    async with app.run_test(size=SIZE) as pilot:
        await dashboard_ready(pilot)
        written.append(save(app, f"dashboard-{theme}"))

        # A run of this session for the run view (the history already holds the one made before).
        prepared = engine.prepare_task(TASK, "localhost", {"mount": "/"}, run_id=engine.new_run_id())
        start_run(app, engine, app.bridge, prepared)
        view = app.bridge.run(prepared.request.run_id)
        await until(pilot, lambda: view.done)

        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TasksScreen))
        await settle(pilot)
        written.append(save(app, f"tasks-{theme}"))
        await back_to_dashboard(pilot)

        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await until(pilot, lambda: screen.tail.seen == view.hosts["localhost"].total_lines)
        await settle(pilot)
        written.append(save(app, f"run-{theme}"))

        # A run over several hosts for the gathered view: five identical outputs and one unreachable host.
        gathered = engine.prepare_command(GATHER_COMMAND, GATHER_TARGETS, run_id=engine.new_run_id())
        start_run(app, engine, app.bridge, gathered)
        gathered_view = app.bridge.run(gathered.request.run_id)
        await until(pilot, lambda: gathered_view.done)
        screen.show_run(gathered.request.run_id)
        await pilot.press("v")
        await settle(pilot)
        written.append(save(app, f"gathered-{theme}"))
        await pilot.press("v")  # Back to the tails, so Esc leaves the screen.
        await back_to_dashboard(pilot)

        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.loaded)
        await settle(pilot)
        written.append(save(app, f"history-{theme}"))
        await back_to_dashboard(pilot)

        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await settle(pilot)
        written.append(save(app, f"help-{theme}"))
        await back_to_dashboard(pilot)

        await pilot.press("J")
        await until(pilot, lambda: isinstance(app.screen, AutomationScreen) and app.screen.loaded)
        await settle(pilot)
        written.append(save(app, f"automation-{theme}"))
    return written


async def render_small(engine: Engine, config_dir: Path, clock: float) -> Path:
    app = make_app(engine, config_dir, clock, DEFAULT_THEME)
    async with app.run_test(size=SMALL_SIZE) as pilot:
        await dashboard_ready(pilot)
        return save(app, "dashboard-80x24")


async def render_all(work: Path) -> list[Path]:
    config_dir = work / "configs"
    shutil.copytree(bundled_configs_dir(), config_dir)
    with (config_dir / "hosts.toml").open("a", encoding="utf-8") as hosts_file:
        hosts_file.write(EXTRA_HOSTS)
    os.environ["FLEETDECK_STATE"] = str(work / "state")

    missing = [t for t in THEMES if not (bundled_themes_dir() / f"{t}.toml").is_file()]
    if missing:
        raise SystemExit(f"bundled themes not found: {', '.join(missing)}")

    # The run the history lists: a real task, run through the engine before any console opens.
    engine = Engine(load_config(config_dir))
    prepared = engine.prepare_task(TASK, "localhost", {"mount": "/"}, run_id=engine.new_run_id())
    summary = await engine.run(prepared, [RunBridge()])
    await engine.close()
    print(f"ran {TASK} on localhost: {summary}")
    clock = float(int(time.time() + CLOCK_LAG_S))

    def engine_for(name: str) -> Engine:
        # A fresh engine per console (the app closes its context's engine on exit), on its own copy of the
        # state, so every theme's history lists the same runs.
        state = work / "states" / name
        shutil.copytree(work / "state", state)
        return Engine(load_config(config_dir), state=state)

    written: list[Path] = []
    for theme in THEMES:
        written += await render_theme(engine_for(theme), config_dir, clock, theme)
    written.append(await render_small(engine_for("small"), config_dir, clock))
    return written


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="fleetdeck-screens-") as tmp:
        written = asyncio.run(render_all(Path(tmp)))
    print(f"{len(written)} screenshots in {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
