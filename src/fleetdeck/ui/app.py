"""`FleetdeckApp`: wires the health source, the themes and the screens together.

The app owns no feature logic. It registers the bundled and user themes (reporting any broken file as a
notification and falling back to the default theme), makes every theme define fleetdeck's semantic
variables, and opens the dashboard with the injected `HealthSource` and clock, so tests and the CLI can
hand it whatever source they like.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual.app import App
from textual.binding import Binding

from fleetdeck.core.health import HealthSource
from fleetdeck.core.paths import bundled_themes_dir
from fleetdeck.ui.screens.dashboard import DashboardScreen
from fleetdeck.ui.themes import DEFAULT_THEME, load_themes, variable_defaults


class FleetdeckApp(App[None]):
    """The fleetdeck console.

    Args:
        source: Where host health comes from.
        refresh_s: Seconds between health polls.
        theme: Name of the theme to start with; `None` for `DEFAULT_THEME`.
        user_themes_dir: Extra `*.toml` themes, overriding bundled ones of the same name.
        config_dir: Shown in the header so the operator knows which configuration is live.
        clock: Epoch-seconds clock; injected so tests can freeze time.
    """

    CSS_PATH = "styles/app.tcss"
    TITLE = "fleetdeck"
    BINDINGS = [Binding("q", "quit", "Quit", id="app.quit")]

    def __init__(
        self,
        source: HealthSource,
        *,
        refresh_s: float = 2.0,
        theme: str | None = None,
        user_themes_dir: Path | None = None,
        config_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self._source = source
        self._refresh_s = refresh_s
        self._clock = clock
        loaded = load_themes(bundled_themes_dir(), user_themes_dir)
        for found in loaded.themes.values():
            self.register_theme(found)
        self._theme_problems = list(loaded.errors)
        self.theme = self._pick_theme(theme or DEFAULT_THEME)
        self.sub_title = str(config_dir) if config_dir is not None else ""

    def _pick_theme(self, wanted: str) -> str:
        """`wanted` if it loaded, else the default, recording why for the operator."""
        if wanted in self.available_themes:
            return wanted
        fallback = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        self._theme_problems.append(f"Theme {wanted!r} is not available; using {fallback!r}.")
        return fallback

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """Variables the current theme may lack (e.g. Textual's own themes), derived from its colours."""
        return variable_defaults(self.current_theme)

    def on_mount(self) -> None:
        """Report theme problems and open the dashboard."""
        if self._theme_problems:
            self.notify(
                "\n".join(self._theme_problems),
                title="Theme problem",
                severity="error",
                timeout=15,
                markup=False,
            )
        self.push_screen(DashboardScreen(self._source, refresh_s=self._refresh_s, clock=self._clock))
