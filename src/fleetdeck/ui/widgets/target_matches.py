"""The live answer to "which hosts would this selector run on?", shown under every target box.

It asks the engine (`Engine.select`, the same resolution a run uses, result sets such as `@last.failed`
included), and shows the count, the first hosts by name, and any host the health data says is down or
stale, so nobody starts a run on a fleet half of which is unreachable without seeing it first. Selector
errors appear in place, in the engine's words.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from fleetdeck.core.errors import FleetdeckError
from fleetdeck.core.health import HealthSample
from fleetdeck.core.runner.service import Engine

SHOWN_HOSTS = 12
"""Host names listed before the rest is summed up as "… N more"."""


class TargetMatches(Static):
    """Count and names of the hosts a selector picks, unhealthy ones flagged.

    Args:
        engine: Resolves selectors.
        health: Latest health sample per host, if the console has one; `down` and `stale` hosts are flagged.
        id: Widget id.
        classes: CSS classes.
    """

    COMPONENT_CLASSES = {"target-matches--bad", "target-matches--warn", "target-matches--muted"}

    DEFAULT_CSS = """
    TargetMatches { height: auto; padding: 0 1; }
    TargetMatches > .target-matches--bad { color: $health-crit; }
    TargetMatches > .target-matches--warn { color: $health-warn; }
    TargetMatches > .target-matches--muted { color: $muted; }
    """

    def __init__(
        self,
        engine: Engine,
        *,
        health: Mapping[str, HealthSample] | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__("", id=id, classes=classes)
        self._engine = engine
        self._health = health or {}
        self.hosts: list[str] = []
        """The hosts the selector matched last time; empty after an error."""
        self.error: str | None = None
        """Why the selector matched nothing usable, in the engine's words."""
        self.unhealthy: list[str] = []
        """Matched hosts whose health is `down` or `stale`."""

    def use_health(self, health: Mapping[str, HealthSample] | None) -> None:
        """Flag unhealthy hosts from `health` from the next `show` on."""
        self._health = health or {}

    def show(self, selector: str) -> bool:
        """Resolve `selector` and redraw; returns whether it matched at least one host."""
        text = Text()
        self.hosts, self.unhealthy, self.error = [], [], None
        if not selector.strip():
            self.error = "no targets: type a selector such as all, @web or web[01-04]"
        else:
            try:
                self.hosts = [host.name for host in self._engine.select(selector)]
            except FleetdeckError as exc:
                self.error = str(exc)
        if self.error is not None:
            text.append(f"✘ {self.error}", style=self._style("bad"))
            self.update(text)
            return False
        count = len(self.hosts)
        text.append(f"{count} host{'s' if count != 1 else ''}: ")
        for index, name in enumerate(self.hosts[:SHOWN_HOSTS]):
            if index:
                text.append(", ", style=self._style("muted"))
            sample = self._health.get(name)
            if sample is not None and sample.status in ("down", "stale"):
                self.unhealthy.append(name)
                text.append(
                    f"{name} ({sample.status})", style=self._style("bad" if sample.status == "down" else "warn")
                )
            else:
                text.append(name)
        if count > SHOWN_HOSTS:
            text.append(f", … {count - SHOWN_HOSTS} more", style=self._style("muted"))
        hidden = [
            name
            for name in self.hosts[SHOWN_HOSTS:]
            if (sample := self._health.get(name)) is not None and sample.status in ("down", "stale")
        ]
        self.unhealthy.extend(hidden)
        if self.unhealthy:
            text.append(f"\n⚠ {len(self.unhealthy)} not healthy right now", style=self._style("bad"))
            if hidden:
                text.append(f": also {', '.join(hidden[:SHOWN_HOSTS])}", style=self._style("bad"))
        self.update(text)
        return True

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"target-matches--{name}", partial=True)
