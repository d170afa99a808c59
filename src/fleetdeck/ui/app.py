"""`FleetdeckApp`: wires the console context, the themes and the screens together.

The app owns no feature logic. It registers the bundled and user themes (reporting any broken file as a
notification and falling back to the default theme), makes every theme define fleetdeck's semantic
variables, runs the context's health collector in a worker for as long as the console is open, and opens
the dashboard. Everything engine-side comes in through the injected `ConsoleContext`, so tests hand it
canned data and the CLI hands it the real engine; on exit the app closes what the context opened.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from fleetdeck.core.paths import bundled_themes_dir
from fleetdeck.ui.context import ConsoleContext
from fleetdeck.ui.screens.dashboard import DashboardScreen
from fleetdeck.ui.themes import DEFAULT_THEME, load_themes, variable_defaults


class FleetdeckApp(App[None]):
    """The fleetdeck console.

    Args:
        context: The engine, health board, collector and clock the screens work with.
        theme: Name of the theme to start with; `None` for `DEFAULT_THEME`.
        user_themes_dir: Extra `*.toml` themes, overriding bundled ones of the same name.
    """

    CSS_PATH = "styles/app.tcss"
    TITLE = "fleetdeck"
    BINDINGS = [Binding("q", "quit", "Quit", id="app.quit")]

    def __init__(
        self,
        context: ConsoleContext,
        *,
        theme: str | None = None,
        user_themes_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self._ctx = context
        self._collector: Worker[None] | None = None
        loaded = load_themes(bundled_themes_dir(), user_themes_dir)
        for found in loaded.themes.values():
            self.register_theme(found)
        self._theme_problems = list(loaded.errors)
        self.theme = self._pick_theme(theme or DEFAULT_THEME)
        self.sub_title = str(context.config_dir) if context.config_dir is not None else ""

    @property
    def context(self) -> ConsoleContext:
        """What the screens read from and call into."""
        return self._ctx

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
        """Report theme problems, start collecting health, and open the dashboard."""
        if self._theme_problems:
            self.notify(
                "\n".join(self._theme_problems),
                title="Theme problem",
                severity="error",
                timeout=15,
                markup=False,
            )
        if self._ctx.collect is not None:
            self._collector = self.run_worker(
                self._collect(), name="health-collector", group="health", exclusive=True, exit_on_error=False
            )
        self.push_screen(DashboardScreen(self._ctx))

    async def _collect(self) -> None:
        """Run the collector until the app exits; if it stops with an error, say so and keep the console up."""
        collect = self._ctx.collect
        assert collect is not None
        try:
            await collect()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            detail = str(error) or type(error).__name__
            self.notify(
                f"Health collection stopped: {detail}. The numbers on screen are no longer updated; "
                "restart the console to resume.",
                title="Health collector failed",
                severity="error",
                timeout=30,
                markup=False,
            )

    async def on_unmount(self) -> None:
        """Stop the collector, then close the engine's connections and anything else the context opened."""
        if self._collector is not None:
            self._collector.cancel()
            with contextlib.suppress(WorkerCancelled, WorkerFailed, asyncio.CancelledError):
                await self._collector.wait()
        await self._ctx.aclose()
