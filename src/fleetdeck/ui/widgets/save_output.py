"""The "save output" prompt: where to write a host's full output, asking before it replaces a file.

A modal with one path box, prefilled with a default (``./<run-id>-<host>.log``). The saving itself is a
blocking function handed in (the run view passes :func:`~fleetdeck.core.store.export.save_host_output`
bound to its run and host), run in a thread so a big output never stalls the screen. An existing file is
replaced only after a yes in a :class:`~fleetdeck.ui.widgets.confirm.ConfirmModal`; a failure (missing
directory, permission) shows in the box, which stays open so the path can be fixed. Dismisses with the
:class:`~fleetdeck.core.store.export.SavedOutput` or `None`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from fleetdeck.core.errors import FleetdeckError
from fleetdeck.core.store.export import OutputExistsError, SavedOutput, resolve_destination
from fleetdeck.ui.output_copy import count_text
from fleetdeck.ui.widgets.confirm import ConfirmModal

SaveFunction = Callable[[Path, bool], SavedOutput]
"""Writes the output to a path, replacing an existing file only when the flag is true; blocks on the disk."""


class SaveOutputModal(ModalScreen[SavedOutput | None]):
    """Ask for a path and save there; dismisses with what was saved, or `None` when cancelled.

    Args:
        title: What is saved, e.g. "Save the full output of web01 (run 20240501-…)".
        default_name: The file name to suggest, also used when the path typed is a directory.
        save: Does the writing (see :data:`SaveFunction`); called in a thread.
        cwd: What a relative path is relative to.
        note: An extra line under the title (e.g. that the run is still going).
    """

    DEFAULT_CSS = """
    SaveOutputModal { align: center middle; }
    SaveOutputModal > Vertical {
        width: 90;
        max-width: 95%;
        height: auto;
        padding: 1 2;
        border: thick $primary;
        background: $surface;
    }
    SaveOutputModal .save-title { text-style: bold; }
    SaveOutputModal .save-hint { color: $text-muted; margin-top: 1; }
    SaveOutputModal #save-message { color: $text-muted; height: auto; }
    SaveOutputModal #save-message.-error { color: $health-crit; }
    SaveOutputModal .save-buttons { height: auto; margin-top: 1; align-horizontal: right; }
    SaveOutputModal .save-buttons > Button { margin-left: 2; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="save-output.cancel")]

    def __init__(self, title: str, default_name: str, save: SaveFunction, *, cwd: Path, note: str = "") -> None:
        super().__init__()
        self._title = title
        self._default_name = default_name
        self._save = save
        self._cwd = cwd
        self._note = note
        self.saving = False
        """Whether a save is under way (tests wait on it)."""

    def compose(self) -> ComposeResult:
        """Title, path box, hint, error line and buttons."""
        with Vertical():
            yield Label(self._title, classes="save-title", markup=False)
            if self._note:
                yield Static(self._note, markup=False)
            yield Label("save to", classes="save-hint")
            yield Input(value=f"./{self._default_name}", id="save-path", select_on_focus=False)
            yield Static(
                f"Relative paths start in {self._cwd}; a directory gets {self._default_name} inside it. "
                "An existing file is only replaced after you confirm.",
                classes="save-hint",
                markup=False,
            )
            yield Static("", id="save-message", markup=False)
            with Horizontal(classes="save-buttons"):
                yield Button("Cancel", id="save-cancel")
                yield Button("Save", id="save-ok", variant="primary")

    @property
    def path_input(self) -> Input:
        """The path box."""
        return self.query_one("#save-path", Input)

    @property
    def message(self) -> str:
        """The line under the path box: an error, or that saving is under way."""
        return str(self.query_one("#save-message", Static).render())

    def on_mount(self) -> None:
        """Start in the path box, cursor at the end."""
        box = self.path_input
        box.focus()
        box.cursor_position = len(box.value)

    def on_input_changed(self, event: Input.Changed) -> None:
        """A new path: the old error no longer applies."""
        if not self.saving:
            self._show_message("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter saves."""
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Save or cancel."""
        if event.button.id == "save-ok":
            self.action_save()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        """Esc: nothing is saved."""
        if not self.saving:
            self.dismiss(None)

    def action_save(self) -> None:
        """Save to the path typed, in a thread."""
        if not self.saving:
            self.run_worker(self._run(self.path_input.value), group="save-output", exclusive=True)

    async def _run(self, text: str) -> None:
        self._set_saving(True)
        try:
            path = await asyncio.to_thread(resolve_destination, text, self._default_name, self._cwd)
            saved = await self._attempt(path, overwrite=False)
        except OutputExistsError as exists:
            size = await asyncio.to_thread(_size_of, exists.path)
            self._set_saving(False)
            self._ask_to_replace(exists.path, size)
            return
        except (FleetdeckError, OSError) as exc:
            self._set_saving(False)
            self._show_message(f"✘ {exc}", error=True)
            return
        self.dismiss(saved)

    async def _attempt(self, path: Path, *, overwrite: bool) -> SavedOutput:
        return await asyncio.to_thread(self._save, path, overwrite)

    def _ask_to_replace(self, path: Path, size: int | None) -> None:
        def answer(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._replace(path), group="save-output", exclusive=True)
            else:
                self._show_message(f"{path} exists and was left as it is: choose another name, or replace it.")
                self.path_input.focus()

        held = "" if size is None else f"It holds {count_text(size, 'byte')}; "
        detail = f"{held}the saved output replaces its content."
        self.app.push_screen(ConfirmModal(f"Replace {path}?", detail, yes="Replace"), answer)

    async def _replace(self, path: Path) -> None:
        self._set_saving(True)
        try:
            saved = await self._attempt(path, overwrite=True)
        except (FleetdeckError, OSError) as exc:
            self._set_saving(False)
            self._show_message(f"✘ {exc}", error=True)
            return
        self.dismiss(saved)

    def _set_saving(self, saving: bool) -> None:
        self.saving = saving
        self.path_input.disabled = saving
        self.query_one("#save-ok", Button).disabled = saving
        if saving:
            self._show_message("saving…")
        else:
            self.path_input.focus()

    def _show_message(self, text: str, *, error: bool = False) -> None:
        line = self.query_one("#save-message", Static)
        line.set_class(error, "-error")
        line.update(text)


def _size_of(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None
