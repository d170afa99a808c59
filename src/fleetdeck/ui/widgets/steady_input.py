"""An `Input` whose typing repaints the field instead of laying out the whole screen.

Textual's `Input` stores the text's width as its virtual size on every change, and that reactive asks for a
layout: each keypress re-arranged and re-rendered every widget on the screen (about 20-30 ms on the run
view during an output flood, where it was most of the key latency). A field whose box has a fixed size
cannot grow with its text, so the new virtual size is kept without the layout; the field still scrolls,
because scrolling reads the stored value. A field sized by its content (`width: auto`) keeps the layout.

The field's horizontal scrollbar is zero cells high but was still switched on and off as the text outgrew
the box or shrank back (each switch a layout of the screen, one of them per search typed over a flood); it is
turned off for good, and the field scrolls to its cursor all the same.
"""

from __future__ import annotations

from typing import Self

from textual.geometry import Region
from textual.widgets import Input


class SteadyInput(Input):
    """A one-line text field for screens that stay busy while the user types (filters, searches, commands)."""

    DEFAULT_CSS = """
    SteadyInput { overflow-x: hidden; }
    """

    _editing = False
    """True while the value's watcher runs: a layout it asks for is one the box cannot need."""

    def _watch_value(self, value: str) -> None:
        self._editing = True
        try:
            super()._watch_value(value)
        finally:
            self._editing = False

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        """As `Input.refresh`, minus the layout an edit asks for when the box's size is fixed."""
        if layout and self._editing and not self.styles.auto_dimensions:
            layout = False
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
