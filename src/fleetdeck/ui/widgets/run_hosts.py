"""The run's host list: one row per host, failures on top, drawn with the line API one visible row at a time.

A `DataTable` re-renders every visible cell whenever any cell changes (its caches are keyed by an update
counter), which makes a table that ticks several times a second cost tens of milliseconds per tick. This
widget keeps each row's cell texts, rebuilds a row's strip only when one of its texts changes, and repaints
only that row; re-sorting happens only when a host moves between status groups. Columns have fixed widths
and the last line takes what is left, so there is no sideways scrolling. Status colours come from
component classes mapped onto the theme's semantic variables; each kind of status also has its own glyph, and
with ``NO_COLOR`` set a byte count that includes stderr is bold, so nothing is told by colour alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip

from fleetdeck.core.nodeset import natural_key
from fleetdeck.core.runner.events import HostState
from fleetdeck.ui.run_bridge import HostRun, RunView
from fleetdeck.ui.widgets.row_cursor import RowCursorView

MISSING = "—"

STATUS_ICONS: dict[HostState, str] = {
    "queued": "·",
    "connecting": "○",
    "running": "●",
    "ok": "✔",
    "failed": "✘",
    "error": "✘",
    "timeout": "◷",
    "unreachable": "⊘",
    "auth_failed": "⊘",
    "host_key_failed": "⊘",
    "cancelled": "■",
}
"""One narrow glyph per state, so the column stays one cell wide in every terminal."""

_STATUS_STYLE: dict[HostState, str] = {
    "queued": "muted",
    "connecting": "active",
    "running": "active",
    "ok": "ok",
    "failed": "bad",
    "error": "bad",
    "timeout": "warn",
    "unreachable": "down",
    "auth_failed": "down",
    "host_key_failed": "down",
    "cancelled": "muted",
}

_RANK: dict[HostState, int] = {
    "failed": 0,
    "error": 0,
    "timeout": 0,
    "unreachable": 0,
    "auth_failed": 0,
    "host_key_failed": 0,
    "running": 1,
    "connecting": 2,
    "queued": 3,
    "cancelled": 4,
    "ok": 5,
}
"""Row order: what needs attention first, then what is moving, then what is done."""


@dataclass(frozen=True, slots=True)
class _Column:
    key: str
    label: str
    width: int
    right: bool = False


_COLUMNS: tuple[_Column, ...] = (
    _Column("status", "", 1),
    _Column("host", "host", 4),  # widened to the run's longest host name, at most 24
    _Column("step", "step", 8),
    _Column("rc", "rc", 3, True),
    _Column("time", "time", 6, True),
    _Column("bytes", "bytes", 6, True),
    _Column("last", "last line", 0),  # whatever width is left
)
COLUMN_KEYS = tuple(column.key for column in _COLUMNS)

Cell = tuple[str, str]
"""A cell's text and its style name (empty for the plain foreground)."""


def short_bytes(value: int) -> str:
    """At most six characters: `0`, `999B`, `12.3K`, `1.2M`."""
    if value <= 0:
        return "0"
    amount = float(value)
    for unit in ("B", "K", "M", "G", "T"):
        if amount < 1000 or unit == "T":
            return f"{amount:.0f}{unit}" if unit == "B" or amount >= 100 else f"{amount:.1f}{unit}"
        amount /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def short_duration(seconds: float | None) -> str:
    """`0.4s`, `12s`, `3m05s`, `1h02m`: precise when short, compact when long."""
    if seconds is None:
        return MISSING
    if seconds < 10:
        return f"{seconds:.1f}s"
    total = int(seconds)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def sort_key(host: HostRun) -> tuple[int, tuple[tuple[str | int, ...], str]]:
    """Failures first, then hosts in flight, queued, cancelled and ok; by natural name within each."""
    return (_RANK[host.status], natural_key(host.name))


def host_cells(host: HostRun, now: float) -> dict[str, Cell]:
    """What a host's row says, column by column."""
    status = _STATUS_STYLE[host.status]
    failed = host.error is not None and host.status != "ok"
    total = host.bytes_out + host.bytes_err
    rc = host.exit_status
    return {
        "status": (STATUS_ICONS[host.status], status),
        "host": (host.name, status if _RANK[host.status] == 0 else ""),
        "step": (host.step or MISSING, "" if host.step else "muted"),
        "rc": (MISSING if rc is None else str(rc), "muted" if rc is None else "ok" if rc == 0 else "bad"),
        "time": (short_duration(host.duration(now)), ""),
        "bytes": (short_bytes(total), "stderr" if host.bytes_err else "muted"),
        "last": ((host.error or "") if failed else host.shown_line(), status if failed else ""),
    }


class RunHostTable(RowCursorView):
    """Every host of one run with its live status, a row cursor, and a fixed header.

    The cursor, scrolling and mouse come from `RowCursorView`; this class keeps the rows' texts and paints them.

    Args:
        clock: Epoch-seconds clock for durations of hosts in flight; injected so snapshots are stable.
        id: Widget id.
        classes: CSS classes.
    """

    COMPONENT_CLASSES = {
        "run-hosts--header",
        "run-hosts--cursor",
        "run-hosts--cursor-blurred",
        "run-hosts--ok",
        "run-hosts--bad",
        "run-hosts--warn",
        "run-hosts--down",
        "run-hosts--active",
        "run-hosts--muted",
        "run-hosts--stderr",
    }

    DEFAULT_CSS = """
    RunHostTable { background: $surface; }
    RunHostTable > .run-hosts--header { text-style: bold; color: $text; background: $panel; }
    RunHostTable > .run-hosts--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    RunHostTable > .run-hosts--cursor-blurred {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
    }
    RunHostTable > .run-hosts--ok { color: $health-ok; }
    RunHostTable > .run-hosts--bad { color: $health-crit; text-style: bold; }
    RunHostTable > .run-hosts--warn { color: $health-warn; }
    RunHostTable > .run-hosts--down { color: $host-down; }
    RunHostTable > .run-hosts--active { color: $primary; }
    RunHostTable > .run-hosts--muted { color: $muted; }
    RunHostTable > .run-hosts--stderr { color: $stream-stderr; }
    RunHostTable:nocolor > .run-hosts--stderr { text-style: bold; }
    """

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="run-hosts.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="run-hosts.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="run-hosts.page-up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="run-hosts.page-down"),
        Binding("home", "first", "First", show=False, id="run-hosts.first"),
        Binding("end", "last", "Last", show=False, id="run-hosts.last"),
        Binding("enter", "choose", "Show output", show=False, id="run-hosts.choose"),
    ]

    class Highlighted(Message):
        """The cursor moved to `host`."""

        def __init__(self, table: RunHostTable, host: str) -> None:
            super().__init__()
            self.table = table
            self.host = host

        @property
        def control(self) -> RunHostTable:
            """The table."""
            return self.table

    class Chosen(Message):
        """`Enter` or a click on `host`: show its output."""

        def __init__(self, table: RunHostTable, host: str) -> None:
            super().__init__()
            self.table = table
            self.host = host

        @property
        def control(self) -> RunHostTable:
            """The table."""
            return self.table

    def __init__(
        self, *, clock: Callable[[], float] = time.time, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._clock = clock
        self._run: RunView | None = None
        self._order: list[str] = []
        self._rows: dict[str, int] = {}
        self._cells: dict[str, dict[str, Cell]] = {}
        self._ranks: dict[str, int] = {}
        self._announced: str | None = None
        self._host_width = 4
        self._strips: dict[tuple[str, bool], Strip] = {}
        self._styles: dict[str, Style] = {}

    # -- data ------------------------------------------------------------------------------------------------

    @property
    def run_id(self) -> str | None:
        """The run shown."""
        return None if self._run is None else self._run.run_id

    @property
    def order(self) -> list[str]:
        """Host names in row order."""
        return list(self._order)

    @property
    def row_count(self) -> int:
        """One row per host of the run."""
        return len(self._order)

    @property
    def cursor_host(self) -> str | None:
        """The host under the cursor."""
        return self._order[self._cursor] if self._order else None

    def cell_text(self, host: str, column: str) -> str:
        """The text a cell shows (tests and copy)."""
        return self._cells[host][column][0]

    def show_run(self, view: RunView, *, select: str | None = None) -> None:
        """Rebuild for `view` (another run was chosen); the cursor goes to `select` or the top row."""
        now = self._clock()
        self._run = view
        self._cells = {name: host_cells(host, now) for name, host in view.hosts.items()}
        self._ranks = {name: _RANK[host.status] for name, host in view.hosts.items()}
        self._host_width = min(24, max([len(name) for name in view.hosts] + [4]))
        self._strips.clear()
        self._sort()
        self._cursor = self._rows.get(select or "", 0)
        self._resize()
        self._announced = None
        self.cursor_moved()

    def update_hosts(self, names: Iterable[str]) -> None:
        """Redraw the rows of `names` whose text changed; re-sort when a host changed status group."""
        view = self._run
        if view is None:
            return
        now = self._clock()
        resort = False
        for name in names:
            host = view.hosts.get(name)
            if host is None:
                continue
            if name not in self._cells:
                resort = True
            self._set_cells(name, host_cells(host, now))
            rank = _RANK[host.status]
            if self._ranks.get(name) != rank:
                self._ranks[name] = rank
                resort = True
        if resort:
            self.resort()

    def tick_durations(self) -> None:
        """Advance the clock of hosts in flight (a row is repainted only when its text changes)."""
        view = self._run
        if view is None:
            return
        now = self._clock()
        for name, host in view.hosts.items():
            if host.status in ("connecting", "running"):
                cells = dict(self._cells.get(name) or host_cells(host, now))
                cells["time"] = (short_duration(host.duration(now)), "")
                self._set_cells(name, cells)

    def resort(self) -> None:
        """Order rows failures first, keeping the cursor on its host."""
        selected = self.cursor_host
        self._sort()
        self._cursor = self._rows.get(selected or "", min(self._cursor, max(0, len(self._order) - 1)))
        self._resize()
        self.refresh()

    def select(self, host: str) -> None:
        """Put the cursor on `host`."""
        if host in self._rows:
            self._move(self._rows[host])

    def _sort(self) -> None:
        view = self._run
        hosts = view.hosts if view is not None else {}
        self._order = sorted(hosts, key=lambda name: sort_key(hosts[name]))
        self._rows = {name: index for index, name in enumerate(self._order)}

    def _set_cells(self, name: str, cells: dict[str, Cell]) -> None:
        if self._cells.get(name) == cells:
            return
        self._cells[name] = cells
        self._strips.pop((name, False), None)
        self._strips.pop((name, True), None)
        row = self._rows.get(name)
        if row is not None:
            self._refresh_row(row)

    # -- cursor ----------------------------------------------------------------------------------------------

    def cursor_moved(self) -> None:
        """Say which host the cursor is on, once per host it lands on."""
        host = self.cursor_host
        if host is not None and host != self._announced:
            self._announced = host
            self.post_message(self.Highlighted(self, host))

    def action_choose(self) -> None:
        """Show the output of the host under the cursor."""
        host = self.cursor_host
        if host is not None:
            self.post_message(self.Chosen(self, host))

    def on_click(self, event: events.Click) -> None:
        """A click picks a row (the header does nothing); a double click also shows its output."""
        super().on_click(event)
        offset = event.get_content_offset(self)
        if (
            event.chain > 1
            and offset is not None
            and offset.y > 0
            and self.scroll_offset.y + offset.y - 1 < self.row_count
        ):
            self.action_choose()

    def on_focus(self) -> None:
        """The cursor row looks different with and without focus."""
        self._repaint_cursor()

    def on_blur(self) -> None:
        """See `on_focus`."""
        self._repaint_cursor()

    def _repaint_cursor(self) -> None:
        self._refresh_row(self._cursor)

    # -- rendering -------------------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        """Theme changed: resolved styles and cached rows are stale."""
        super().notify_style_update()
        self._styles.clear()
        self._strips.clear()

    def on_resize(self, event: events.Resize) -> None:
        """The last-line column takes the new width."""
        self._strips.clear()
        self._resize()

    def render_line(self, y: int) -> Strip:
        """The header on the first screen row, then the rows from the scroll offset."""
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header(width)
        row = int(self.scroll_y) + y - 1
        if row >= len(self._order):
            return Strip.blank(width, self._base())
        name = self._order[row]
        cursor = row == self._cursor
        key = (name, cursor)
        strip = self._strips.get(key)
        if strip is None or strip.cell_length != width:
            strip = self._strips[key] = self._row(name, cursor, width)
        return strip

    def _widths(self, width: int) -> list[int]:
        widths = [self._host_width if column.key == "host" else column.width for column in _COLUMNS]
        used = sum(widths[:-1]) + len(widths)  # one space before each column
        widths[-1] = max(0, width - used)
        return widths

    def _header(self, width: int) -> Strip:
        style = self._base() + self._style("header")
        segments = [Segment(" ", style)]
        for column, cell_width in zip(_COLUMNS, self._widths(width), strict=True):
            segments.append(Segment(self._fit(column.label, cell_width, column.right) + " ", style))
        return Strip(segments).crop_extend(0, width, style)

    def _row(self, name: str, cursor: bool, width: int) -> Strip:
        cells = self._cells.get(name, {})
        base = self._base()
        if cursor:
            base = base + self._style("cursor" if self.has_focus else "cursor-blurred")
        segments = [Segment(" ", base)]
        for column, cell_width in zip(_COLUMNS, self._widths(width), strict=True):
            text, style_name = cells.get(column.key, ("", ""))
            style = base + self._style(style_name) if style_name and not cursor else base
            segments.append(Segment(self._fit(text, cell_width, column.right), style))
            segments.append(Segment(" ", base))
        return Strip(segments).crop_extend(0, width, base)

    @staticmethod
    def _fit(text: str, width: int, right: bool) -> str:
        if width <= 0:
            return ""
        if right and len(text) < width:
            text = text.rjust(width)
        return set_cell_size(text, width)

    def _base(self) -> Style:
        style = self._styles.get("")
        if style is None:
            style = self._styles[""] = self.rich_style
        return style

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(f"run-hosts--{name}", partial=True)
        return style
