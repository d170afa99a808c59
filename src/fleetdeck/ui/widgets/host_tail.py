"""The output tail: a host's log view framed with a "N new lines" notice and a search bar.

:class:`HostTail` wraps a :class:`~fleetdeck.ui.widgets.tail_log.TailLog`: it shows the notice while the log's
follow mode is paused (a click on it resumes following) and drives the log's search from its search bar. The
log view itself, with follow mode, search and wrap, lives in :mod:`fleetdeck.ui.widgets.tail_log` and is
re-exported here.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Input, Static

from fleetdeck.ui.run_bridge import DEFAULT_MAX_LINES
from fleetdeck.ui.widgets.steady_input import SteadyInput
from fleetdeck.ui.widgets.tail_log import TailLog, compile_search

__all__ = ["SEARCH_WAIT_S", "HostTail", "TailLog", "compile_search"]

SEARCH_WAIT_S = 0.15
"""How long a typed search waits before the log is searched and repainted with the new highlights."""


class HostTail(Vertical):
    """A titled :class:`TailLog` with its "N new lines" notice and a search bar.

    Args:
        max_lines: Most lines the log keeps.
        id: Widget id.
        classes: CSS classes.
    """

    DEFAULT_CSS = """
    HostTail { height: 1fr; }
    HostTail > TailLog { height: 1fr; }
    HostTail > .tail-paused {
        display: none;
        height: 1;
        padding: 0 1;
        background: $accent 30%;
        color: $text;
    }
    HostTail.-paused > .tail-paused { display: block; }
    HostTail > .tail-search { display: none; height: 3; }
    HostTail.-searching > .tail-search { display: block; }
    """

    def __init__(
        self, *, max_lines: int = DEFAULT_MAX_LINES, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._max_lines = max_lines
        self.source: tuple[str, str] | None = None
        """What the log shows, as (run id, host), so the screen knows when to reload it."""
        self.seen = 0
        """Lines of the source the log has taken (the source's absolute line count)."""
        self._search_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        """The log, the paused notice and the (hidden) search bar."""
        yield TailLog(max_lines=self._max_lines)
        yield Static("", classes="tail-paused")
        yield SteadyInput(
            placeholder="search (regex; Enter jumps, n/N next/previous, Esc clears)", classes="tail-search"
        )

    @property
    def log_view(self) -> TailLog:
        """The log inside."""
        return self.query_one(TailLog)

    @property
    def search_input(self) -> Input:
        """The search bar."""
        return self.query_one(".tail-search", Input)

    def on_mount(self) -> None:
        """Show the notice whenever follow mode is paused."""
        log = self.log_view
        self.watch(log, "following", self._show_paused)
        self.watch(log, "unseen", self._show_paused)

    def _show_paused(self) -> None:
        log = self.log_view
        self.set_class(not log.following, "-paused")
        unseen = log.unseen
        what = f"▼ {unseen} new line{'s' if unseen != 1 else ''}" if unseen else "▼ paused"
        self.query_one(".tail-paused", Static).update(f"{what} · End or G to follow", layout=False)

    def on_click(self, event: events.Click) -> None:
        """A click on the notice resumes following."""
        widget = event.widget
        if widget is not None and widget.has_class("tail-paused"):
            self.log_view.resume()

    @property
    def searching(self) -> bool:
        """Whether the search bar is open."""
        return self.has_class("-searching")

    def open_search(self) -> None:
        """Show the search bar and focus it."""
        self.add_class("-searching")
        self.search_input.focus()

    def close_search(self, *, clear: bool) -> None:
        """Hide the search bar; `clear` also drops the highlights."""
        self.remove_class("-searching")
        if clear:
            self._cancel_search_timer()
            self.search_input.value = ""
            self.log_view.search("")
            self.border_subtitle = ""
        self.log_view.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Highlight as the user types, at most once per `SEARCH_WAIT_S`.

        Searching re-styles every visible line of the log: done per key, a fast typist over a flooding host
        paid for a full repaint of the log before each letter could show. The letter shows at once; the
        highlights follow the last one typed.
        """
        if event.input is self.search_input:
            event.stop()
            if self._search_timer is None:
                self._search_timer = self.set_timer(SEARCH_WAIT_S, self.apply_search, name="tail-search")

    def apply_search(self) -> None:
        """Search the log for what the search bar holds now (a pending throttled search runs at once)."""
        self._cancel_search_timer()
        query = self.search_input.value
        count = self.log_view.search(query)
        subtitle = f"{count} matching lines" if query else ""
        if self.border_subtitle != subtitle:  # setting it repaints the whole pane, log included
            self.border_subtitle = subtitle

    def _cancel_search_timer(self) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter jumps to the nearest match and hands the keys back to the log."""
        if event.input is self.search_input:
            event.stop()
            if self._search_timer is not None:
                self.apply_search()
            self.remove_class("-searching")
            self.log_view.focus()
            self.log_view.jump(forward=False)

    def on_tail_log_search_moved(self, event: TailLog.SearchMoved) -> None:
        """Say which match is current."""
        self.border_subtitle = f"match {event.index}/{event.total}"
