"""A line-API scroll view of one-line rows under a fixed header line, with a row cursor and the mouse's row.

The fleet table's base: it knows rows only by index and count. It moves the cursor (keys, clicks,
`move_cursor`), keeps it in view, follows the row under the mouse, and repaints only the lines those touch; row
`r` is virtual line `r + 1`, under the header, so the virtual height is the row count plus one. Subclasses paint
(`render_line`), give the row count, bind keys to the `cursor`, `page`, `first` and `last` actions, and say what
a header click and a cursor move mean.
"""

from __future__ import annotations

from textual import events
from textual.geometry import Size
from textual.scroll_view import ScrollView


class RowCursorView(ScrollView, can_focus=True, inherit_bindings=False):
    """Rows under a header line, a row cursor and a hover row; bindings are the subclass's to choose.

    Not inheriting bindings: a scroll view's sideways and page-scrolling keys mean nothing here and would fill
    the `?` help.
    """

    DEFAULT_CSS = """
    RowCursorView { overflow-x: hidden; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._cursor = 0
        self._hover: int | None = None

    @property
    def row_count(self) -> int:
        """How many rows there are: none here; a subclass counts its own."""
        return 0

    @property
    def cursor_row(self) -> int:
        """Index of the cursor's row."""
        return self._cursor

    def move_cursor(self, *, row: int | None = None, animate: bool = False, scroll: bool = True) -> None:
        """Put the cursor on row `row` (clamped to the rows there are), scrolling it into view if `scroll`."""
        if row is not None:
            self._move(row, animate=animate, scroll=scroll)

    def header_clicked(self, x: int) -> None:
        """The header was clicked `x` cells from its left edge."""

    def cursor_moved(self) -> None:
        """The cursor may be on another row (called after every move)."""

    # -- keys and mouse ---------------------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        """Move the cursor by `step` rows."""
        self._set_hover(None)
        self._move(self._cursor + step)

    def action_page(self, direction: int) -> None:
        """Scroll a screenful and move the cursor as far."""
        self._set_hover(None)
        page = max(1, self._page_rows())
        self.scroll_to(y=self.scroll_target_y + direction * page, animate=False, force=True)
        self._move(self._cursor + direction * page)

    def action_first(self) -> None:
        """Cursor to the top row."""
        self._set_hover(None)
        self._move(0)

    def action_last(self) -> None:
        """Cursor to the bottom row."""
        self._set_hover(None)
        self._move(self.row_count - 1)

    def on_click(self, event: events.Click) -> None:
        """A click on a row puts the cursor there; a click on the header is the subclass's."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            self.header_clicked(offset.x)
            return
        row = self.scroll_offset.y + offset.y - 1
        if row < self.row_count:
            event.stop()
            self._move(row)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """Highlight the row under the mouse."""
        offset = event.get_content_offset(self)
        row = None if offset is None or offset.y < 1 else self.scroll_offset.y + offset.y - 1
        self._set_hover(row if row is not None and row < self.row_count else None)

    def on_leave(self, event: events.Leave) -> None:
        """The mouse left: no row is hovered."""
        self._set_hover(None)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Scrolling repaints the rows in view; the mouse is over another row now."""
        if round(old_value) != round(new_value):
            self._hover = None
        super().watch_scroll_y(old_value, new_value)

    # -- rows -------------------------------------------------------------------------------------

    def _move(self, row: int, *, animate: bool = False, scroll: bool = True) -> None:
        if self.row_count == 0:
            return
        row = max(0, min(row, self.row_count - 1))
        if row != self._cursor:
            self._refresh_row(self._cursor)
            self._cursor = row
            self._refresh_row(row)
        if scroll:
            self._scroll_to_cursor(animate=animate)
        self.cursor_moved()

    def _scroll_to_cursor(self, *, animate: bool = False) -> None:
        rows = self._page_rows()
        if rows <= 0:
            return
        top = round(self.scroll_target_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=animate, force=True)
        elif self._cursor >= top + rows:
            self.scroll_to(y=self._cursor - rows + 1, animate=animate, force=True)

    def _set_hover(self, row: int | None) -> None:
        if row == self._hover:
            return
        old, self._hover = self._hover, row
        for changed in (old, row):
            if changed is not None:
                self._refresh_row(changed)

    def _resize(self) -> None:
        """Virtual height: the header and every row."""
        self.virtual_size = Size(self.scrollable_content_region.width, self.row_count + 1)

    def _page_rows(self) -> int:
        """Rows that fit under the header."""
        return max(0, self.scrollable_content_region.height - 1)

    def _view(self) -> range:
        """The rows in view."""
        top = self.scroll_offset.y
        return range(top, top + self._page_rows())

    def _refresh_row(self, row: int, view: range | None = None) -> None:
        """Repaint the line of `row` if it is in view (`view`: the rows in view, when the caller knows them)."""
        if row in (self._view() if view is None else view):
            self.refresh_line(row + 1)
