"""Confirmation dialogs: a yes/no question, and the stronger "type the name to confirm" for dangerous tasks.

Both are modal screens that dismiss with `True` only on an explicit yes; `Esc` always means no. The typed
confirmation keeps its button disabled until the text matches exactly, so a stray `Enter` cannot start a
dangerous task (the pattern GitHub uses for deleting a repository).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

_CSS = """
ConfirmModal, TypeToConfirmModal { align: center middle; }
ConfirmModal > Vertical, TypeToConfirmModal > Vertical {
    width: 72;
    max-width: 90%;
    height: auto;
    padding: 1 2;
    border: thick $error 60%;
    background: $surface;
}
.confirm-title { text-style: bold; margin-bottom: 1; }
.confirm-buttons { height: auto; margin-top: 1; align-horizontal: right; }
.confirm-buttons > Button { margin-left: 2; }
.confirm-hint { color: $muted; }
"""


class ConfirmModal(ModalScreen[bool]):
    """Ask a yes/no question; dismisses with `True` for yes.

    Args:
        title: The question, e.g. "Cancel run 20240501-…?".
        detail: What will happen, in a sentence or two.
        yes: Label of the button that confirms.
    """

    DEFAULT_CSS = _CSS
    BINDINGS = [
        Binding("escape", "answer(False)", "No", id="confirm.no"),
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
    ]

    def __init__(self, title: str, detail: str = "", *, yes: str = "Yes") -> None:
        super().__init__()
        self._question = title
        self._details = detail
        self._yes = yes

    def compose(self) -> ComposeResult:
        """Question, detail, buttons."""
        with Vertical():
            yield Label(self._question, classes="confirm-title", markup=False)
            if self._details:
                yield Static(self._details, markup=False)
            with Horizontal(classes="confirm-buttons"):
                yield Button("No", id="confirm-no")
                yield Button(self._yes, id="confirm-yes", variant="error")

    def on_mount(self) -> None:
        """No is the safe default."""
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Answer with the button pressed."""
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        """Answer from a key."""
        self.dismiss(yes)


class TypeToConfirmModal(ModalScreen[bool]):
    """Confirm a dangerous action by typing a name; dismisses with `True` only when it matches.

    Args:
        name: What must be typed (the task's name).
        detail: What will run and where.
    """

    DEFAULT_CSS = _CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="confirm.cancel")]

    def __init__(self, name: str, detail: str = "") -> None:
        super().__init__()
        self._expected = name
        self._details = detail

    def compose(self) -> ComposeResult:
        """Warning, what runs, the name box and the buttons."""
        with Vertical():
            yield Label(f"{self._expected} is marked dangerous", classes="confirm-title", markup=False)
            if self._details:
                yield Static(self._details, markup=False)
            yield Label(f"Type {self._expected} to run it:", classes="confirm-hint", markup=False)
            yield Input(placeholder=self._expected, id="confirm-name")
            with Horizontal(classes="confirm-buttons"):
                yield Button("Cancel", id="confirm-no")
                yield Button("Run", id="confirm-yes", variant="error", disabled=True)

    def on_mount(self) -> None:
        """Start in the name box."""
        self.query_one("#confirm-name", Input).focus()

    @property
    def matches(self) -> bool:
        """Whether the typed text is exactly the name."""
        return self.query_one("#confirm-name", Input).value == self._expected

    def on_input_changed(self, event: Input.Changed) -> None:
        """Enable the button only on an exact match."""
        self.query_one("#confirm-yes", Button).disabled = not self.matches

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter confirms only when the name matches; otherwise it says what is expected."""
        if self.matches:
            self.dismiss(True)
        else:
            self.notify(f"Type exactly {self._expected} to confirm, or Esc to cancel.", severity="warning")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Answer with the button pressed."""
        self.dismiss(event.button.id == "confirm-yes" and self.matches)

    def action_cancel(self) -> None:
        """Esc: do not run."""
        self.dismiss(False)
