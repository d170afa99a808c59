"""The `:` command palette's fleetdeck entries: screens and saved tasks, fuzzy-searched by Textual."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from fleetdeck.ui.app import FleetdeckApp


class FleetdeckCommands(Provider):
    """Screens (tasks, command, runs, history, help) and one entry per saved task."""

    def _entries(self) -> list[tuple[str, str, Callable[[], object]]]:
        app: FleetdeckApp = self.app  # type: ignore[assignment]
        entries: list[tuple[str, str, Callable[[], object]]] = [
            ("Tasks", "pick a saved task and run it", app.action_tasks),
            ("Command", "run a one-off command on hosts", app.action_exec),
            ("Runs", "the runs of this session, split view", app.action_runs),
            ("History", "past runs and their saved output", app.action_history),
            ("Help", "every key of this screen", app.action_help),
        ]
        engine = app.context.engine
        if engine is not None:
            for name, task in engine.config.tasks.items():
                entries.append((f"Task: {name}", task.description, partial(app.open_task, name)))
        return entries

    async def discover(self) -> Hits:
        """Everything, before anything is typed."""
        for name, help_text, action in self._entries():
            yield DiscoveryHit(name, action, help=help_text)

    async def search(self, query: str) -> Hits:
        """Entries whose name matches ``query``."""
        matcher = self.matcher(query)
        for name, help_text, action in self._entries():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), action, help=help_text)
