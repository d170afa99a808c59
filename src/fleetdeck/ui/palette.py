"""The `:` command palette's fleetdeck entries: screens, saved tasks, hosts and themes, fuzzy-searched by Textual.

A host entry goes back to the dashboard and puts the fleet table's cursor on that host, so its detail pane
shows it (clearing a filter that hides it). A theme entry switches the theme the same way Textual's own
theme picker does, by setting `App.theme`, which the app remembers for the next start.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from fleetdeck.ui.screens.dashboard import DashboardScreen
from fleetdeck.ui.widgets.filter_bar import FilterBar

if TYPE_CHECKING:
    from textual.app import App

    from fleetdeck.ui.app import FleetdeckApp

Entry = tuple[str, str, Callable[[], object]]
"""What the palette lists: the name matched against, a line of help, and what selecting it does."""

DISCOVER_HOSTS = 30
"""Hosts listed before anything is typed; every host is found by typing, but a fleet of thousands would
bury the screens and tasks in the unfiltered list."""
SHOW_HOST_TRIES = 40
SHOW_HOST_RETRY_S = 0.05
"""A host hidden by the dashboard's filter shows once the dashboard applies the cleared filter (on its next
drain tick); it is looked for this often, this many times."""


class FleetdeckCommands(Provider):
    """Screens (tasks, command, runs, history, alerts, automation, help), saved tasks, hosts and themes."""

    def _screens(self) -> list[Entry]:
        app: FleetdeckApp = self.app  # type: ignore[assignment]
        entries: list[Entry] = [
            ("Tasks", "pick a saved task and run it", app.action_tasks),
            ("Command", "run a one-off command on hosts", app.action_exec),
            ("Runs", "the runs of this session, split view", app.action_runs),
            ("History", "past runs and their saved output", app.action_history),
            ("Alerts", "firing alerts: acknowledge or silence them", app.action_alerts),
        ]
        automation = getattr(app, "action_automation", None)
        if callable(automation):
            entries.append(("Automation", "schedules and remediations waiting for approval", automation))
        entries.append(("Help", "every key of this screen", app.action_help))
        engine = app.context.engine
        if engine is not None:
            for name, task in engine.config.tasks.items():
                entries.append((f"Task: {name}", task.description, partial(app.open_task, name)))
        return entries

    def _hosts(self) -> list[Entry]:
        app: FleetdeckApp = self.app  # type: ignore[assignment]
        context = app.context
        entries: list[Entry] = []
        for name in context.board.hosts:
            parts: list[str] = []
            if name in context.inventory:
                host = context.inventory.get(name)
                parts.append("this machine" if host.is_local else host.address)
                parts.extend(f"@{group}" for group in host.groups)
            sample = context.board.latest.get(name)
            if sample is not None and sample.status != "up":
                parts.append(sample.status)
            help_text = "show in the dashboard: " + " · ".join(parts) if parts else "show in the dashboard"
            entries.append((f"Host: {name}", help_text, partial(show_host, app, name)))
        return entries

    def _themes(self) -> list[Entry]:
        app = self.app
        entries: list[Entry] = []
        for name, theme in sorted(app.available_themes.items()):
            kind = "ANSI colours of the terminal" if theme.ansi else "dark" if theme.dark else "light"
            current = " (current)" if name == app.theme else ""
            entries.append((f"Theme: {name}", f"switch to this {kind} theme{current}", partial(set_theme, app, name)))
        return entries

    async def discover(self) -> Hits:
        """Screens and tasks, then themes and the first hosts, before anything is typed."""
        for name, help_text, action in (*self._screens(), *self._themes(), *self._hosts()[:DISCOVER_HOSTS]):
            yield DiscoveryHit(name, action, help=help_text)

    async def search(self, query: str) -> Hits:
        """Entries whose name matches ``query``."""
        matcher = self.matcher(query)
        for name, help_text, action in (*self._screens(), *self._hosts(), *self._themes()):
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), action, help=help_text)


def set_theme(app: App[Any], name: str) -> None:
    """Switch to theme `name`; the app remembers it for the next start, as for Textual's theme picker."""
    app.theme = name


def show_host(app: App[Any], name: str) -> None:
    """Go back to the dashboard and put the fleet table's cursor (and so the detail pane) on host `name`."""
    dashboard = next((screen for screen in app.screen_stack if isinstance(screen, DashboardScreen)), None)
    if dashboard is None:
        app.notify("The dashboard is not open.", severity="warning")
        return
    while app.screen is not dashboard:
        app.pop_screen()
    table = dashboard.table
    if name not in table.hosts:
        app.notify(f"{name} is not on the dashboard.", severity="warning", markup=False)
        return
    if name not in table.shown_hosts:
        dashboard.query_one(FilterBar).action_clear()
        app.notify(f"The filter hid {name}; it is cleared.", markup=False)
    _select_when_shown(dashboard, name, SHOW_HOST_TRIES)


def _select_when_shown(dashboard: DashboardScreen, name: str, tries: int) -> None:
    table = dashboard.table
    if name in table.shown_hosts:
        table.move_cursor(row=table.get_row_index(name), animate=False, scroll=True)
        table.focus()
    elif tries > 0:
        dashboard.set_timer(SHOW_HOST_RETRY_S, partial(_select_when_shown, dashboard, name, tries - 1))
