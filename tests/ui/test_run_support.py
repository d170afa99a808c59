"""Shared harness for the tasks, run and history screen tests, and a check that they style in every theme.

The screens are self-contained, so they are tested in a small app of our own (not the console's app):
it registers fleetdeck's themes and semantic variables and pushes the screen under test. A real `Engine`
runs on the bundled configs (`localhost` runs commands locally, no SSH) with its state dir, set through
`FLEETDECK_STATE`, in the test's tmp dir.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input

from fleetdeck.core.config.loader import load_config
from fleetdeck.core.paths import bundled_themes_dir
from fleetdeck.core.runner.events import (
    BatchFinished,
    HostConnecting,
    HostFinished,
    HostQueued,
    HostRunning,
    Output,
    RunEvent,
    RunFinished,
    RunStarted,
)
from fleetdeck.core.runner.service import Engine
from fleetdeck.ui.run_bridge import RunBridge
from fleetdeck.ui.themes import DEFAULT_THEME, load_themes, variable_defaults

CONFIGS = Path(__file__).parents[2] / "configs"
NOW = 1_700_000_000.0
"""The frozen clock of snapshot tests."""


class ScreenHarness(App[None]):
    """An app that only shows one screen, styled with fleetdeck's themes.

    Args:
        make_screen: Builds the screen under test once the app runs.
        theme: Theme to use.
    """

    TITLE = "fleetdeck"

    def __init__(self, make_screen: Callable[[], Screen[Any]], *, theme: str = DEFAULT_THEME) -> None:
        super().__init__()
        for found in load_themes(bundled_themes_dir()).themes.values():
            self.register_theme(found)
        self.theme = theme
        self._make_screen = make_screen

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return variable_defaults(self.current_theme)

    def on_mount(self) -> None:
        self.push_screen(self._make_screen())


def make_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config_dir: Path = CONFIGS) -> Engine:
    """A real engine on `config_dir` whose store lives under `tmp_path`."""
    state = tmp_path / "state"
    monkeypatch.setenv("FLEETDECK_STATE", str(state))
    return Engine(load_config(config_dir))


def count_layouts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on, count every screen's layouts in the returned one-item list."""
    layouts = [0]
    original = Screen._refresh_layout

    def counting(self: Screen[object], *args: object, **kwargs: object) -> None:
        layouts[0] += 1
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Screen, "_refresh_layout", counting)
    return layouts


async def until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Let the app run until `condition` holds; fail after `timeout` seconds (a hang, not a timing check)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await pilot.pause(0.02)


def no_blink(pilot: Pilot[Any]) -> None:
    """Stop input cursors blinking so snapshots are stable."""
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False


def canned_run(run_id: str = "20231114-221320-beef") -> Iterator[RunEvent]:
    """Events of a small finished-and-running run at a frozen time, for the run screen snapshot."""
    hosts = ("web01", "web02", "web03", "db01", "db02", "cache01")
    yield RunStarted(run_id, "disk-usage", "all", hosts, {"mount": "/"}, time=NOW - 20)
    for host in hosts:
        yield HostQueued(run_id, host, time=NOW - 20)
    for index, host in enumerate(hosts[:5]):
        yield HostConnecting(run_id, host, time=NOW - 19 + index)
        yield HostRunning(run_id, host, "main", 1, time=NOW - 19 + index)
    df = b"Filesystem      Size  Used Avail Use% Mounted on\n/dev/sda1        50G   21G   27G  44% /\n"
    for host in ("web01", "web02", "db01"):
        yield Output(run_id, host, "stdout", df, "main", time=NOW - 15)
        yield HostFinished(run_id, host, "ok", 0, 2.5, step="main", time=NOW - 15)
    yield Output(run_id, "web03", "stderr", b"df: /: Input/output error\n", "main", time=NOW - 14)
    yield HostFinished(run_id, "web03", "failed", 1, 3.1, "step main exited with status 1", "main", time=NOW - 14)
    yield Output(run_id, "db02", "stdout", b"Filesystem      Size  Used Avail Use% Mounted on\n", "main", time=NOW - 3)


def feed(bridge: RunBridge, events: Iterator[RunEvent]) -> None:
    for event in events:
        bridge.handle(event)


def finished_run(run_id: str) -> Iterator[RunEvent]:
    yield from canned_run(run_id)
    yield Output(run_id, "db02", "stdout", b"/dev/sda1        50G   21G   27G  44% /\n", "main", time=NOW)
    yield HostFinished(run_id, "db02", "ok", 0, 4.0, step="main", time=NOW)
    yield HostFinished(run_id, "cache01", "unreachable", None, 10.0, "cache01: connection refused", time=NOW)
    yield BatchFinished(run_id, 1, 1, ("web01",), 2, time=NOW)
    yield RunFinished(run_id, {"ok": 4, "failed": 1, "unreachable": 1}, 1, 20.0, time=NOW)


@pytest.mark.parametrize("theme", ["fleetdeck-dark", "fleetdeck-light", "high-contrast", "ansi", "textual-dark"])
async def test_run_view_styles_in_every_theme(theme: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every semantic variable the new widgets use resolves in each bundled theme (and in Textual's own)."""
    from fleetdeck.ui.screens.run import RunScreen

    engine = make_engine(tmp_path, monkeypatch)
    bridge = RunBridge()
    feed(bridge, finished_run("r1"))
    app = ScreenHarness(lambda: RunScreen(engine, bridge, run_id="r1", clock=lambda: NOW), theme=theme)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.press("v")
        await pilot.pause()
        assert app.screen.query_one("#run-gathered").display
    await engine.close()
