"""Shown instead of a broken layout while the terminal is below the minimum size; gone once it grows."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

MIN_WIDTH = 60
MIN_HEIGHT = 16


def too_small(width: int, height: int) -> bool:
    """Whether a terminal of ``width`` x ``height`` cells is below what the console can lay out."""
    return width < MIN_WIDTH or height < MIN_HEIGHT


class TooSmallScreen(ModalScreen[None]):
    """A plain notice with the sizes; the app pops it when the terminal is large enough again."""

    DEFAULT_CSS = """
    TooSmallScreen { align: center middle; background: $background; }
    TooSmallScreen > Static { width: 100%; content-align: center middle; text-align: center; color: $warning; }
    """
    BINDINGS = [Binding("q", "app.quit", "Quit", id="too-small.quit")]

    def compose(self) -> ComposeResult:
        yield Static(id="too-small-text")

    def on_mount(self) -> None:
        self.show_size(self.app.size.width, self.app.size.height)

    def show_size(self, width: int, height: int) -> None:
        """Say how big the terminal is and how big it must be."""
        self.query_one("#too-small-text", Static).update(
            f"fleetdeck needs at least {MIN_WIDTH}x{MIN_HEIGHT} cells; this terminal is {width}x{height}.\n"
            "Enlarge the window to continue (q quits)."
        )
