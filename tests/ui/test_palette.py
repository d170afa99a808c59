"""The `:` palette's own entries: a host goes to the dashboard with its detail shown; a theme switches and sticks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dashboard_fakes import dashboard, make_context, ready, table, until
from textual.command import Command, CommandList, CommandPalette
from textual.pilot import Pilot
from textual.screen import Screen

from fleetdeck.ui.app import FleetdeckApp
from fleetdeck.ui.screens.dashboard import DashboardScreen


def make_app(tmp_path: Path) -> FleetdeckApp:
    return FleetdeckApp(make_context(), state_dir=tmp_path / "state")


async def palette_entries(pilot: Pilot[Any], query: str = "") -> list[str]:
    """Open the palette, type `query`, and return the entries it lists once they stop changing."""
    await pilot.press("colon")
    await until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
    if query:
        await pilot.press(*query)
    listed: list[str] = []
    stable = 0
    for _ in range(200):
        await pilot.pause(0.05)
        now = _listed(pilot)
        stable = stable + 1 if now == listed and now else 0
        listed = now
        if stable == 5:
            return listed
    raise AssertionError(f"the palette did not settle on a list for {query!r}: {listed}")


def _listed(pilot: Pilot[Any]) -> list[str]:
    commands = pilot.app.screen.query_one(CommandList)
    options = [commands.get_option_at_index(i) for i in range(commands.option_count)]
    return [option.hit.text or "" for option in options if isinstance(option, Command)]


async def choose(pilot: Pilot[Any], query: str, entry: str) -> None:
    """Pick `entry` from the palette after typing `query`."""
    listed = await palette_entries(pilot, query)
    assert entry in listed, listed
    pilot.app.screen.query_one(CommandList).highlighted = listed.index(entry)
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(pilot.app.screen, CommandPalette))
    await pilot.pause()


async def test_a_host_entry_returns_to_the_dashboard_with_the_host_selected(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        assert table(pilot).cursor_host != "db-2"
        app.push_screen(Screen())  # another screen on top, e.g. the run view
        await until(pilot, lambda: not isinstance(app.screen, DashboardScreen))

        await choose(pilot, "db-2", "Host: db-2")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and table(pilot).cursor_host == "db-2")
        screen = dashboard(pilot)
        assert screen.query_one("#detail-pane").border_title == "db-2"
        assert table(pilot).has_focus


async def test_a_host_hidden_by_the_filter_is_shown_by_clearing_it(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        await pilot.press("slash", *"@web", "enter")
        await until(pilot, lambda: table(pilot).shown_hosts == ["web-1", "web-2"])

        await choose(pilot, "cache", "Host: cache-1")
        await until(pilot, lambda: table(pilot).cursor_host == "cache-1")
        assert len(table(pilot).shown_hosts) == 5
        assert dashboard(pilot).applied_filter is None
        assert dashboard(pilot).query_one("#detail-pane").border_title == "cache-1"


async def test_every_theme_has_an_entry_and_the_pick_is_remembered(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        listed = await palette_entries(pilot)
        assert {f"Theme: {name}" for name in app.available_themes} <= set(listed)
        assert {"Tasks", "Runs", "History", "Alerts", "Help"} <= set(listed)
        assert ("Automation" in listed) == callable(getattr(app, "action_automation", None))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))

        assert app.theme != "high-contrast"
        await choose(pilot, "high-contrast", "Theme: high-contrast")
        assert app.theme == "high-contrast"
    assert make_app(tmp_path).theme == "high-contrast"


async def test_the_automation_entry_is_left_out_when_the_app_has_no_such_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(FleetdeckApp, "action_automation", raising=False)
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 35)) as pilot:
        await ready(pilot)
        listed = await palette_entries(pilot)
        assert "Runs" in listed and "Automation" not in listed
