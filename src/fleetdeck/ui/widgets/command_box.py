"""The ad-hoc command box: one command, a target selector and an optional timeout, checked as you type.

A modal that returns a prepared run (`Engine.prepare_command` with a fresh run id) or `None`, so whoever
opens it only has to start and show the run. The target box shows the live host matches like the task form;
the engine's own errors ("selector ... matches no hosts") appear inline rather than as a failed run.

The app keeps one box (`command_box`) and empties it for each opening: building it anew took 40-120 ms on a
console busy with a flood and 500 hosts, and left some 11,000 objects a time for the cyclic collector.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from fleetdeck.core.errors import FleetdeckError
from fleetdeck.core.health import HealthSample
from fleetdeck.core.runner.service import Engine, Prepared
from fleetdeck.ui.widgets.steady_input import SteadyInput
from fleetdeck.ui.widgets.target_matches import TargetMatches

SCREEN_NAME = "command-box"
"""The name the app's command box is installed under."""


def command_box(
    app: App[Any], engine: Engine, *, selector: str = "", health: Mapping[str, HealthSample] | None = None
) -> CommandBox:
    """The app's command box, empty and set to `selector`: built and installed the first time, reused after.

    A box for another engine is replaced; one already open (never the case from a key) gets a fresh sibling.
    """
    if app.is_screen_installed(SCREEN_NAME):
        box = app.get_screen(SCREEN_NAME)
        if box in app.screen_stack:
            return CommandBox(engine, selector=selector, health=health)
        if isinstance(box, CommandBox) and box.engine is engine:
            box.prepare(selector=selector, health=health)
            return box
        app.uninstall_screen(SCREEN_NAME)
    box = CommandBox(engine, selector=selector, health=health)
    app.install_screen(box, SCREEN_NAME)
    return box


class CommandBox(ModalScreen[Prepared | None]):
    """Ask for a one-off command and where to run it; dismisses with the prepared run or `None`.

    Args:
        engine: Resolves targets and prepares the run.
        selector: Targets to start with (the marked hosts, or the task form's selector).
        health: Latest health per host, to flag unhealthy targets.
    """

    DEFAULT_CSS = """
    CommandBox { align: center middle; }
    CommandBox > Vertical {
        width: 90;
        max-width: 95%;
        height: auto;
        padding: 1 2;
        border: thick $primary;
        background: $surface;
    }
    CommandBox .box-title { text-style: bold; }
    CommandBox Label { margin-top: 1; }
    CommandBox #command-error { color: $health-crit; height: auto; }
    CommandBox .box-buttons { height: auto; margin-top: 1; align-horizontal: right; }
    CommandBox .box-buttons > Button { margin-left: 2; }
    """

    BINDINGS = [
        Binding("escape", "dismiss_box", "Cancel", id="command.cancel"),
        Binding("ctrl+r", "run", "Run", id="command.run"),
    ]

    def __init__(self, engine: Engine, *, selector: str = "", health: Mapping[str, HealthSample] | None = None) -> None:
        super().__init__()
        self._engine = engine
        self._selector = selector
        self._health = health
        self._prepared = False
        """Whether `prepare` asked for an empty box since it was last shown."""

    @property
    def engine(self) -> Engine:
        """The engine the box prepares runs with."""
        return self._engine

    def prepare(self, *, selector: str = "", health: Mapping[str, HealthSample] | None = None) -> None:
        """Empty the box and set its targets, for the next time it is shown."""
        self._selector = selector
        self._health = health
        self._prepared = True

    def compose(self) -> ComposeResult:
        """Command, targets with their matches, timeout, error line and buttons."""
        with Vertical():
            yield Static("Run a command", classes="box-title")
            yield Label("command (run by the host's shell)")
            yield SteadyInput(placeholder="e.g. uptime", id="command-text")
            yield Label("targets")
            yield SteadyInput(
                value=self._selector, placeholder="all, @web, web[01-04], @last.failed", id="command-targets"
            )
            yield TargetMatches(self._engine, health=self._health, id="command-matches")
            yield Label("timeout in seconds (empty: none)")
            yield SteadyInput(placeholder="none", id="command-timeout", restrict=r"[0-9.]*")
            yield Static("", id="command-error", markup=False)
            with Horizontal(classes="box-buttons"):
                yield Button("Cancel", id="command-cancel")
                yield Button("Run", id="command-run", variant="primary")

    def on_mount(self) -> None:
        """Start in the command box, with the matches of the given targets."""
        self.query_one("#command-text", Input).focus()
        self.query_one(TargetMatches).show(self._selector)

    def on_screen_resume(self) -> None:
        """Shown again after `prepare`: empty, with the new targets and their matches, typing the command."""
        if not self._prepared:
            return
        self._prepared = False
        for name in ("#command-text", "#command-timeout"):
            self.query_one(name, Input).value = ""
        self.query_one("#command-targets", Input).value = self._selector
        self.query_one("#command-error", Static).update("")
        matches = self.query_one(TargetMatches)
        matches.use_health(self._health)
        matches.show(self._selector)
        self.query_one("#command-text", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Targets: show what they match as they are typed."""
        if event.input.id == "command-targets":
            self.query_one(TargetMatches).show(event.value)
        error = self.query_one("#command-error", Static)
        if error.content:  # clearing an empty line would still lay out the box on every key
            error.update("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in any box runs."""
        event.stop()
        self.action_run()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Run or cancel."""
        if event.button.id == "command-run":
            self.action_run()
        else:
            self.dismiss(None)

    def action_dismiss_box(self) -> None:
        """Esc: no run."""
        self.dismiss(None)

    def action_run(self) -> None:
        """Prepare the command; on success the box closes with it, otherwise the problem is shown."""
        command = self.query_one("#command-text", Input).value
        selector = self.query_one("#command-targets", Input).value.strip()
        timeout_text = self.query_one("#command-timeout", Input).value.strip()
        error = self.query_one("#command-error", Static)
        timeout: float | None = None
        if timeout_text:
            try:
                timeout = float(timeout_text)
            except ValueError:
                timeout = -1.0
            if timeout <= 0:
                error.update(f"timeout: expected a number of seconds above 0, got {timeout_text!r}")
                return
        if not command.strip():
            error.update("command: type the command to run")
            self.query_one("#command-text", Input).focus()
            return
        try:
            prepared = self._engine.prepare_command(
                command, selector, timeout=timeout, run_id=self._engine.new_run_id()
            )
        except FleetdeckError as exc:
            error.update(f"✘ {exc}")
            return
        self.dismiss(prepared)
