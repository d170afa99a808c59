"""Plain terminals: the console stays readable with NO_COLOR and never sends 24-bit colour to a 256-colour one.

Textual reads ``NO_COLOR`` when an app is created (it then greys every colour with a line filter) and the
colour system when its console is created, from ``TEXTUAL_COLOR_SYSTEM`` as read at import time
(`textual.constants.COLOR_SYSTEM`); so both are set before the app is built. The screen is rendered the
way the driver writes it to the terminal: a full update of the screen's compositor, turned into escape
sequences by the app's console.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import textual.constants
from dashboard_fakes import make_app, ready, table
from rich.color import ColorSystem
from rich.console import Console
from test_run_support import NOW, ScreenHarness, feed, finished_run, make_engine, until
from textual.color import Color
from textual.pilot import Pilot

from fleetdeck.core.paths import bundled_themes_dir
from fleetdeck.ui.run_bridge import RunBridge
from fleetdeck.ui.screens.dashboard import DashboardScreen
from fleetdeck.ui.screens.run import RunScreen
from fleetdeck.ui.themes import load_themes
from fleetdeck.ui.widgets.host_tail import TailLog
from fleetdeck.ui.widgets.run_hosts import RunHostTable

_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TRUECOLOR = re.compile(r"[34]8;2;(\d+);(\d+);(\d+)")
STATUS_VARIABLES = ("health-ok", "health-warn", "health-crit", "host-down")


def terminal_output(app: Any, console: Console | None = None) -> str:
    """What the driver writes for a full repaint of the current screen."""
    if console is None:
        console = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", legacy_windows=False)
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    return str(update.render_segments(console))


def screen_rows(output: str) -> list[str]:
    return _ESCAPE.sub("", output).split("\n")


def row_of(rows: list[str], host: str) -> str:
    """The first table row naming `host` (borders and their titles are skipped)."""
    found = [row for row in rows if re.search(rf"\b{re.escape(host)}\b", row) and not row.lstrip().startswith("╭")]
    assert found, f"{host} is not on screen"
    return found[0]


async def test_no_color_dashboard_tells_states_apart_without_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    assert app.no_color
    async with app.run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        output = terminal_output(app)
        greys = _TRUECOLOR.findall(output)
        assert greys and all(r == g == b for r, g, b in greys), "NO_COLOR: every colour is a grey"

        rows = screen_rows(output)
        assert any("hosts 5 · 1 down · 1 stale" in row for row in rows)
        down = row_of(rows, "db-2")
        assert "✗" in down and "down" in down and "connection refused" in down
        assert "◌" in row_of(rows, "cache-1") and "no health data" in row_of(rows, "cache-1")
        assert "●" in row_of(rows, "web-1")
        assert "95%" in row_of(rows, "db-1")  # a full disk reads as a number, not only a colour
        assert "◆" in row_of(rows, "db-1") and "◆" in row_of(rows, "web-2"), "a critical host has its own dot"

        # Still usable: sort and filter by keys.
        await pilot.press("s")
        assert table(pilot).sort_key == "status"
        await pilot.press("slash", *"@db", "enter")
        await until(pilot, lambda: table(pilot).shown_hosts in (["db-2", "db-1"], ["db-1", "db-2"]))


async def test_no_color_run_view_keeps_status_glyphs_and_marks_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    bridge = RunBridge()
    feed(bridge, finished_run("r1"))
    engine = make_engine(tmp_path, monkeypatch)
    app = ScreenHarness(lambda: RunScreen(engine, bridge, clock=lambda: NOW))
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        assert isinstance(screen, RunScreen)
        screen.query_one(RunHostTable).select("web03")
        await until(pilot, lambda: screen.tail.log_view.line_count == 1)
        await pilot.pause()
        output = terminal_output(app)
        rows = screen_rows(output)
        assert "ok 4 · failed 1 · timeout 0 · unreachable 1" in "\n".join(rows)
        assert "✘" in row_of(rows, "web03")
        assert "⊘" in row_of(rows, "cache01") and "connection refused" in row_of(rows, "cache01")
        assert "✔" in row_of(rows, "db01")

        # Without colour, stderr is told apart by weight.
        log = screen.tail.log_view
        assert log.get_component_rich_style("tail-log--stderr", partial=True).bold
        codes = re.search(r"\x1b\[([\d;]*)mdf: /: Input/output error", output)
        assert codes is not None and codes.group(1).split(";")[0] == "1"
    await engine.close()


async def test_stderr_is_colour_not_bold_when_colour_is_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    app = ScreenHarness(lambda: RunScreen(make_engine(tmp_path, monkeypatch), RunBridge()))
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        style = app.screen.query_one(TailLog).get_component_rich_style("tail-log--stderr", partial=True)
        assert style.color is not None and not style.bold


async def settle(pilot: Pilot[Any], theme: str) -> None:
    pilot.app.theme = theme
    await pilot.pause()
    await pilot.pause()


async def test_a_256_colour_terminal_gets_no_truecolor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", "256")
    app = make_app()
    assert app.console.color_system == "256"
    themes = sorted(load_themes(bundled_themes_dir()).themes)
    async with app.run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        for theme in themes:
            await settle(pilot, theme)
            assert isinstance(app.screen, DashboardScreen)
            output = terminal_output(app, app.console)
            assert "38;2;" not in output and "48;2;" not in output, theme
            assert "38;5;" in output or theme == "ansi", theme  # still in colour, from the 256 palette

            # The states stay distinguishable once the theme's colours are squeezed into 256.
            variables = app.get_css_variables()
            indexes = {
                Color.parse(variables[name]).rich_color.downgrade(ColorSystem.EIGHT_BIT).number
                for name in STATUS_VARIABLES
            }
            assert len(indexes) == len(STATUS_VARIABLES), (theme, indexes)

    engine = make_engine(tmp_path, monkeypatch)
    bridge = RunBridge()
    feed(bridge, finished_run("r1"))
    run_app = ScreenHarness(lambda: RunScreen(engine, bridge, clock=lambda: NOW))
    assert run_app.console.color_system == "256"
    async with run_app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: isinstance(run_app.screen, RunScreen))
        await pilot.pause()
        output = terminal_output(run_app, run_app.console)
        assert "38;2;" not in output and "48;2;" not in output
        assert "38;5;" in output
    await engine.close()
