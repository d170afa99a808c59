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
import time
from pathlib import Path

from textual import events
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from fleetdeck.core.paths import bundled_themes_dir
from fleetdeck.core.runner.service import Engine, Prepared
from fleetdeck.ui.console_settings import load_settings, remember_theme, remembered_theme
from fleetdeck.ui.context import ConsoleContext
from fleetdeck.ui.gc_pacer import TICK_S, GcPacer
from fleetdeck.ui.palette import FleetdeckCommands
from fleetdeck.ui.run_bridge import RunBridge
from fleetdeck.ui.screens.alerts import AlertsScreen
from fleetdeck.ui.screens.automation import AutomationScreen
from fleetdeck.ui.screens.dashboard import DashboardScreen
from fleetdeck.ui.screens.help import HelpScreen
from fleetdeck.ui.screens.history import HistoryScreen
from fleetdeck.ui.screens.run import RunScreen, open_run
from fleetdeck.ui.screens.tasks import TasksScreen
from fleetdeck.ui.screens.too_small import TooSmallScreen, too_small
from fleetdeck.ui.strip_cycles import install as install_strip_patch
from fleetdeck.ui.themes import DEFAULT_THEME, load_themes, variable_defaults
from fleetdeck.ui.widget_leaks import drop_closed_watchers, trim_style_caches
from fleetdeck.ui.widgets.command_box import command_box


class FleetdeckApp(App[None]):
    """The fleetdeck console.

    Args:
        context: The engine, health board, collector and clock the screens work with.
        theme: Name of the theme to start with; `None` for `DEFAULT_THEME`.
        user_themes_dir: Extra `*.toml` themes, overriding bundled ones of the same name.
        state_dir: Where the picked theme is remembered; `None` to remember nothing (tests).
    """

    CSS_PATH = [
        "styles/app.tcss",
        *(f"styles/{name}.tcss" for name in ("dashboard", "tasks", "run", "history", "alerts", "automation")),
    ]
    """Every screen's stylesheet, read at start. A screen's own `CSS_PATH` read on its first push makes Textual
    parse every stylesheet of the app again and restyle every widget (0.3 s of CPU when the first run opens,
    with 500 hosts on the dashboard); read here, the push finds them loaded. Screen stylesheets are not scoped
    to their screen either way, so nothing else changes."""
    COMMANDS = App.COMMANDS | {FleetdeckCommands}
    TITLE = "fleetdeck"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("t", "tasks", "Tasks", id="app.tasks"),
        Binding("x", "exec", "Command", id="app.exec"),
        Binding("r", "runs", "Runs", id="app.runs"),
        Binding("h", "history", "History", id="app.history"),
        Binding("A", "alerts", "Alerts", id="app.alerts"),
        Binding("colon", "command_palette", "Palette", id="app.palette", show=False),
        Binding("question_mark", "help", "Help", id="app.help"),
        # After Help, so a narrow footer drops this one rather than the key that lists every other.
        Binding("J", "automation", "Automation", id="app.automation"),
    ]

    def __init__(
        self,
        context: ConsoleContext,
        *,
        theme: str | None = None,
        user_themes_dir: Path | None = None,
        state_dir: Path | None = None,
    ) -> None:
        install_strip_patch()
        super().__init__()
        self._ctx = context
        self._collector: Worker[None] | None = None
        self._gc_pacer = GcPacer()
        loaded = load_themes(bundled_themes_dir(), user_themes_dir)
        for found in loaded.themes.values():
            self.register_theme(found)
        self._theme_problems = list(loaded.errors)
        self._settings = load_settings(context.config_dir)
        self._state_dir = state_dir
        wanted = theme or self._settings.theme or (remembered_theme(state_dir) if state_dir else None)
        self.theme = self._pick_theme(wanted or DEFAULT_THEME)
        self._theme_problems.extend(self._settings.problems)
        if self._settings.keymap:
            self.set_keymap(self._settings.keymap)
        self.sub_title = str(context.config_dir) if context.config_dir is not None else ""
        self._bridge = RunBridge()

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

    def watch_theme(self, theme: str) -> None:
        """Remember the theme the operator picked (from the palette) for the next start."""
        if self._state_dir is not None and self.is_running:
            remember_theme(self._state_dir, theme)

    @property
    def bridge(self) -> RunBridge:
        """Every run started from this console reports here."""
        return self._bridge

    def _engine(self) -> Engine | None:
        if self._ctx.engine is None:
            self.notify("Runs need a configuration with an engine.", severity="warning")
        return self._ctx.engine

    def _marked(self) -> list[str]:
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen):
                return screen.marked_hosts()
        return []

    def action_tasks(self) -> None:
        """Pick a saved task (targets prefilled from the marked hosts) and run it."""
        engine = self._engine()
        if engine is not None and not isinstance(self.screen, TasksScreen):
            self.push_screen(TasksScreen(engine, self._bridge, marked=self._marked(),
                                         health=self._ctx.board.latest, clock=self._ctx.clock))  # fmt: skip

    def open_task(self, name: str) -> None:
        """Open the task picker straight at one task's form."""
        engine = self._engine()
        if engine is not None:
            self.push_screen(TasksScreen(engine, self._bridge, marked=self._marked(), task=name,
                                         health=self._ctx.board.latest, clock=self._ctx.clock))  # fmt: skip

    def action_exec(self) -> None:
        """Run a one-off command on the marked hosts (or a selector typed in the box)."""
        engine = self._engine()
        if engine is None:
            return

        def started(prepared: Prepared | None) -> None:
            if prepared is not None:
                open_run(self, engine, self._bridge, prepared, clock=self._ctx.clock)

        self.push_screen(command_box(self, engine, selector=",".join(self._marked()), health=self._ctx.board.latest),
                         started)  # fmt: skip

    def action_runs(self) -> None:
        """Show the runs of this session (split view)."""
        engine = self._engine()
        if engine is not None and not isinstance(self.screen, RunScreen):
            self.push_screen(RunScreen(engine, self._bridge, clock=self._ctx.clock))

    def action_history(self) -> None:
        """Past runs from the store; opening one replays its saved output."""
        engine = self._engine()
        if engine is not None and not isinstance(self.screen, HistoryScreen):
            self.push_screen(HistoryScreen(engine, bridge=self._bridge, clock=self._ctx.clock))

    def action_alerts(self) -> None:
        """Show the alerts the console's rules see; acknowledge or silence them."""
        alerts = self._ctx.alerts
        if alerts is None:
            self.notify("Alerts need a configuration with alert rules.", severity="warning")
        elif not isinstance(self.screen, AlertsScreen):
            self.push_screen(AlertsScreen(alerts, clock=self._ctx.clock))

    def action_automation(self) -> None:
        """Show schedules with their next runs, and approve or deny remediations waiting for approval."""
        automation = self._ctx.automation
        if automation is None:
            self.notify("Automation needs a configuration (schedules.toml, remediation.toml).", severity="warning")
        elif not isinstance(self.screen, AutomationScreen):
            self.push_screen(AutomationScreen(automation, clock=self._ctx.clock))

    def action_help(self) -> None:
        """Show the keys of the current screen (generated from the bindings, remapped keys included)."""
        self.push_screen(HelpScreen())

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """Variables the current theme may lack (e.g. Textual's own themes), derived from its colours."""
        return variable_defaults(self.current_theme)

    def on_resize(self, event: events.Resize) -> None:
        """Cover the screen with a notice below the minimum size instead of drawing a broken layout."""
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int, height: int) -> None:
        showing = isinstance(self.screen, TooSmallScreen)
        if too_small(width, height):
            if showing:
                assert isinstance(self.screen, TooSmallScreen)
                self.screen.show_size(width, height)
            else:
                self.push_screen(TooSmallScreen())
        elif showing:
            self.pop_screen()

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
        self._check_size(self.size.width, self.size.height)
        self._gc_pacer.engage()
        self.set_interval(TICK_S, self._pace_gc, name="gc-pacer")

    def _pace_gc(self) -> None:
        """Let the collector have removed widgets (see `widget_leaks`), then pace it."""
        drop_closed_watchers(self)
        trim_style_caches()
        self._gc_pacer.tick()

    async def on_event(self, event: events.Event) -> None:
        """Put what the operator types or clicks first: runs' output waits until its effect is on screen.

        The engine's intake is held while the app takes a key or click and until the screen has been
        refreshed after the widget that gets it handled it (or the intake's own limit), so a flooding host's
        chunks do not queue in front of it. A key no widget stops bubbles back here to run its binding; it is
        held again for that, until the refresh after the action. The GC pacer notes the time too, so full
        collections wait for a pause.
        """
        engine = self._ctx.engine
        if not isinstance(event, events.Key | events.MouseDown) or engine is None:
            await super().on_event(event)
            return
        back = event.is_forwarded
        if not back:
            self._gc_pacer.last_input = time.monotonic()
        release = engine.intake.hold()
        try:
            await super().on_event(event)
        finally:
            # Forwarded just now: on its way to a widget. Else handled here (a priority binding, or bindings
            # after it came back), so the next refresh shows it.
            target = self.focused or self.screen if event.is_forwarded and not back else self
            if not target.call_after_refresh(release):
                release()

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
        self._gc_pacer.release()
