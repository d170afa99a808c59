"""The console's top-level keys: tasks, command box, runs, history, help, palette, remapped keys, theme memory."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.css.stylesheet import Stylesheet
from textual.widgets import DataTable, Input

from fleetdeck.core.config import load_config
from fleetdeck.core.paths import bundled_configs_dir
from fleetdeck.ui.app import FleetdeckApp
from fleetdeck.ui.context import ConsoleContext
from fleetdeck.ui.screens.help import HelpScreen
from fleetdeck.ui.screens.history import HistoryScreen
from fleetdeck.ui.screens.run import RunScreen
from fleetdeck.ui.screens.tasks import TasksScreen
from fleetdeck.ui.widgets.command_box import CommandBox


def make_app(tmp_path: Path, config_dir: Path | None = None) -> FleetdeckApp:
    config = load_config(config_dir or bundled_configs_dir())
    context = ConsoleContext.from_config(config, tmp_path / "state")
    return FleetdeckApp(context, state_dir=tmp_path / "state")


async def test_keys_open_each_screen_and_escape_returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETDECK_STATE", str(tmp_path / "state"))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 35)) as pilot:
        for key, screen in (("t", TasksScreen), ("r", RunScreen), ("h", HistoryScreen), ("x", CommandBox)):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, screen), (key, app.screen)
            await pilot.press("escape")
            await pilot.pause()
            if isinstance(app.screen, TasksScreen):  # the picker's search box takes the first Esc
                await pilot.press("escape")
                await pilot.pause()
            assert not isinstance(app.screen, screen), key


async def test_opening_a_screen_the_first_time_does_not_parse_every_stylesheet_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each screen's stylesheet is read at start: a first push would otherwise reparse and restyle everything."""
    monkeypatch.setenv("FLEETDECK_STATE", str(tmp_path / "state"))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        reparsed: list[str] = []
        original = Stylesheet.reparse

        def spy(self: Stylesheet) -> None:
            reparsed.append(type(app.screen).__name__)
            original(self)

        monkeypatch.setattr(Stylesheet, "reparse", spy)
        for key in ("t", "r", "h", "A", "J", "x"):
            await pilot.press(key)
            await pilot.pause()
            assert type(app.screen).__name__ != "DashboardScreen", key
            await pilot.press("escape")
            await pilot.pause()
            if isinstance(app.screen, TasksScreen):  # the picker's search box takes the first Esc
                await pilot.press("escape")
                await pilot.pause()
        assert reparsed == []


async def test_help_lists_keys_with_binding_ids(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one(DataTable)
        ids = {str(table.get_row_at(i)[2]) for i in range(table.row_count)}
        assert {"app.tasks", "app.history", "app.quit", "dashboard.filter"} <= ids
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_keymap_from_console_toml_remaps_a_binding(tmp_path: Path) -> None:
    config_dir = tmp_path / "cfg"
    shutil.copytree(bundled_configs_dir(), config_dir)
    (config_dir / "console.toml").write_text('[keymap]\n"app.tasks" = "T"\n')
    app = make_app(tmp_path, config_dir)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        assert not isinstance(app.screen, TasksScreen)
        await pilot.press("T")
        await pilot.pause()
        assert isinstance(app.screen, TasksScreen)


async def test_a_broken_console_toml_is_reported_not_fatal(tmp_path: Path) -> None:
    config_dir = tmp_path / "cfg"
    shutil.copytree(bundled_configs_dir(), config_dir)
    (config_dir / "console.toml").write_text('colour = "blue"\n[keymap]\n"app.tasks" = 5\n')
    app = make_app(tmp_path, config_dir)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        messages = " ".join(str(n.message) for n in app._notifications)
        assert "console.toml: colour: unknown key" in messages
        assert "console.toml: keymap.app.tasks: expected keys" in messages


async def test_the_picked_theme_is_remembered(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 35)) as pilot:
        app.theme = "fleetdeck-light"
        await pilot.pause()
    again = make_app(tmp_path)
    assert again.theme == "fleetdeck-light"


async def test_a_too_small_terminal_gets_a_notice_until_it_grows(tmp_path: Path) -> None:
    from fleetdeck.ui.screens.dashboard import DashboardScreen
    from fleetdeck.ui.screens.too_small import TooSmallScreen

    app = make_app(tmp_path)
    async with app.run_test(size=(50, 12)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen)
        text = str(app.screen.query_one("#too-small-text").render())
        assert "at least 60x16" in text and "50x12" in text
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)


async def test_a_key_holds_runs_output_until_the_screen_has_shown_what_it_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Input first: while a key is handled and drawn, output readers wait; the refresh after it lets them go."""
    monkeypatch.setenv("FLEETDECK_STATE", str(tmp_path / "state"))
    app = make_app(tmp_path)
    engine = app.context.engine
    assert engine is not None
    engine.intake.max_hold_s = 60  # only refreshes end holds here
    held_in_action: list[bool] = []
    at_release: list[tuple[bool, str]] = []  # (command box on screen, text of the focused field)
    hold = engine.intake.hold

    def spy_hold() -> Callable[[], None]:
        release = hold()

        def spied_release() -> None:
            focused = app.focused
            at_release.append((isinstance(app.screen, CommandBox), focused.value if isinstance(focused, Input) else ""))
            release()

        return spied_release

    async def settled() -> None:
        deadline = time.monotonic() + 10
        while engine.intake.held:
            assert time.monotonic() < deadline, "a hold was never released"
            await pilot.pause(0.01)

    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        action_exec = app.action_exec

        def spy_exec() -> None:
            held_in_action.append(engine.intake.held)
            action_exec()

        monkeypatch.setattr(app, "action_exec", spy_exec)
        monkeypatch.setattr(engine.intake, "hold", spy_hold)
        # A binding: held on the way to the focused widget, and again while the app runs the action.
        await pilot.press("x")
        await settled()
        assert held_in_action == [True]
        assert at_release[-1] == (True, "")
        # A letter the field takes: released once the screen was refreshed with the letter in it.
        at_release.clear()
        await pilot.press("u")
        await settled()
        assert at_release == [(True, "u")]
        await pilot.press("escape")
        await settled()
        assert not isinstance(app.screen, CommandBox)
