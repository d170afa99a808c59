"""The `?` help: every key of the screen underneath and of the app, generated from the bindings.

Because it reads the live bindings, remapped keys (``console.toml`` ``[keymap]``) show as they are, and
each row gives the binding id to remap it with.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static


class HelpScreen(ModalScreen[None]):
    """Keys of the screen below, with their binding ids."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 90; max-width: 100%; height: auto; max-height: 90%;
                            border: round $primary; background: $surface; padding: 0 1; }
    HelpScreen DataTable { height: auto; max-height: 30; }
    HelpScreen .help-note { color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", id="help.toggle", show=False),
        Binding("q", "close", "Close", id="help.quit", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static('[b]Keys[/b]  (remap in console.toml: [keymap] "binding.id" = "key")')
            yield DataTable(cursor_type="row", zebra_stripes=True)
            yield Static(
                "Esc closes. `:` opens the command palette (screens, tasks, hosts, themes).", classes="help-note"
            )

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "does", "binding id")
        stack = self.app.screen_stack
        below = stack[-2] if len(stack) >= 2 else stack[-1]
        seen: set[tuple[str, str]] = set()
        for key, active in below.active_bindings.items():
            binding = active.binding
            name = binding.description or binding.action
            if (name, binding.id or "") in seen or not name:
                continue
            seen.add((name, binding.id or ""))
            table.add_row(self.app.get_key_display(binding) or key, name, binding.id or "")

    def action_close(self) -> None:
        """Back to the screen below."""
        self.dismiss(None)
