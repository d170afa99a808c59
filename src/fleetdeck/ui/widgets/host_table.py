"""The fleet table: one row per host, painted line by line, repainting only the rows whose text changed.

Every cell is a small tuple of `(text, style name)` runs (see `host_cells`), cheap to build and to compare. The
table is a line-API scroll view with a fixed header line and a row cursor (see `row_cursor`): it keeps one strip
per row, keyed by the row's runs, the width and whether the cursor or the mouse is on it, builds a strip from
segments only when that key changes (see `fleet_rows`), and on a drain refreshes only the screen lines of rows
in view whose runs changed. (A `DataTable` re-rendered every visible cell through Rich whenever any cell
changed.) Sorted by name (the default), a row out of view costs nothing on a drain but keeping its sample, and
its runs are built when it scrolls in; sorted by a number, its runs are rebuilt and compared to see whether it
moves. Column widths are fixed and chosen for the table's width (narrow terminals get a shorter trend and
lose the uptime column, which the detail pane still shows). A filter only decides which rows exist; every host's
runs are kept current, so a filtered-out host is up to date the moment it comes back. Colours come from
component classes the stylesheet maps onto theme variables; the header, cursor and hover look like DataTable's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.theme import Theme

from fleetdeck.core.health import HealthSample
from fleetdeck.core.nodeset import natural_key
from fleetdeck.ui.widgets.fleet_rows import RowPainter
from fleetdeck.ui.widgets.host_cells import (
    CELL_PADDING,
    HOST_WIDTH_MAX,
    SORT_CYCLE,
    TREND_WIDTH,
    Badge,
    Column,
    Justify,
    NameKey,
    SortKey,
    Spec,
    fit_columns,
    header_labels,
    row_cells,
    sort_hosts,
)
from fleetdeck.ui.widgets.row_cursor import RowCursorView
from fleetdeck.ui.widgets.sparkline_text import sparkline


class FleetTable(RowCursorView):
    """Hosts and their latest numbers, sortable, filterable and markable.

    Args:
        hosts: Host names, one row each until a filter says otherwise.
        id: Widget id.
        classes: CSS classes.
    """

    COMPONENT_CLASSES = {
        "fleet-table--header",
        "fleet-table--cursor",
        "fleet-table--hover",
        "fleet-table--ok",
        "fleet-table--warn",
        "fleet-table--crit",
        "fleet-table--down",
        "fleet-table--stale",
        "fleet-table--muted",
        "fleet-table--trend",
        "fleet-table--mark",
    }

    DEFAULT_CSS = """
    FleetTable {
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .fleet-table--header { background-tint: $foreground 5%; }
            & > .fleet-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        & > .fleet-table--header { text-style: bold; background: $panel; color: $foreground; }
        /* DataTable's header in the ANSI theme: the terminal's own colours. */
        &:ansi > .fleet-table--header { background: ansi_bright_blue; color: ansi_default; }
        & > .fleet-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .fleet-table--hover { background: $block-hover-background; }
    }
    """

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="fleet-table.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="fleet-table.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="fleet-table.page-up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="fleet-table.page-down"),
        Binding("home,ctrl+home,g", "first", "First host", show=False, id="fleet-table.first"),
        Binding("end,ctrl+end,G", "last", "Last host", show=False, id="fleet-table.last"),
    ]

    class HostHighlighted(Message):
        """The row cursor is on another host (`None`: the table has no rows)."""

        def __init__(self, table: FleetTable, host: str | None) -> None:
            super().__init__()
            self.table = table
            self.host = host

        @property
        def control(self) -> FleetTable:
            """The table."""
            return self.table

    def __init__(self, hosts: Sequence[str], *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._hosts: list[str] = list(dict.fromkeys(hosts))
        self._known: set[str] = set(self._hosts)
        self._samples: dict[str, HealthSample] = {}
        self._peaks: dict[str, Sequence[float | None]] = {}
        self._trends: dict[str, tuple[Sequence[float | None], str]] = {}
        self._specs: dict[str, dict[str, Spec]] = {}
        self._names: dict[str, NameKey] = {}
        self._columns: tuple[Column, ...] = ()
        self._labels: dict[str, str] = {}
        self._trend = TREND_WIDTH
        self._keep: Callable[[str], bool] | None = None
        self._badges: dict[str, Badge] = {}
        self._shown: list[str] = []
        self._rows: dict[str, int] = {}
        self._announced: str | None = None
        self._painter = RowPainter(self, "fleet-table")
        self.marked: set[str] = set()
        """Hosts the operator marked with `space`, kept while they are filtered out."""
        self.sort_key: SortKey = "host"
        """The column rows are ordered by."""
        self.sort_reverse = False
        """Whether the order is the opposite of the column's natural one."""
        self._show(self._ordered(self._hosts))

    # -- lifecycle ------------------------------------------------------------------------------

    def on_mount(self) -> None:
        """Lay out for the app's width (the table's own is not known yet) and follow theme changes."""
        self.app.theme_changed_signal.subscribe(self, self._restyle)
        self._fit(self.app.size.width - 3)
        self._resize()
        self.cursor_moved()

    def on_resize(self, event: events.Resize) -> None:
        """Pick the layout that fits the new width."""
        self._fit(self.scrollable_content_region.width)
        self._resize()

    def notify_style_update(self) -> None:
        """CSS changed (theme, focus, `:nocolor`): resolved styles and painted rows are stale."""
        super().notify_style_update()
        self._painter.forget()

    def on_focus(self) -> None:
        """The cursor row and the background look different with and without focus."""
        self._restyle()

    def on_blur(self) -> None:
        """See `on_focus`."""
        self._restyle()

    # -- data -----------------------------------------------------------------------------------

    def update_hosts(self, updates: Iterable[tuple[HealthSample, Sequence[float | None]]]) -> None:
        """Take new samples, repainting only rows in view whose text or style changed, then re-sort if needed.

        Args:
            updates: Each host's latest sample (with the status to show) and its CPU trend peaks, oldest
                first, one per `TREND_BUCKET_S`; pass the same sequence object while the peaks are unchanged
                and the sparkline is not redrawn.
        """
        moved = added = False
        view = self._view()
        for sample, peaks in updates:
            host = sample.host
            if host not in self._known:
                self._hosts.append(host)
                self._known.add(host)
                if self._keep is None or self._keep(host):
                    self._rows[host] = len(self._shown)
                    self._shown.append(host)
                    added = True
            self._samples[host] = sample
            self._peaks[host] = peaks
            moved = self._write(host, view) or moved
        if added:
            if self.size.width:
                self._fit(self.scrollable_content_region.width)  # a longer name widens the host column
            self._resize()
        if moved or added:
            self._resort()

    def set_badges(self, badges: Mapping[str, Badge]) -> None:
        """Show each up host's firing alerts (count, worst severity) in its alert column; absent hosts have none."""
        wanted = {host: badge for host, badge in badges.items() if badge[0] > 0}
        if wanted == self._badges:
            return
        changed = {host for host in wanted.keys() | self._badges.keys() if wanted.get(host) != self._badges.get(host)}
        self._badges = wanted
        for host in changed:
            if host in self._known:
                self._write(host)

    def sample_for(self, host: str) -> HealthSample | None:
        """The sample currently shown for `host`, if one has arrived."""
        return self._samples.get(host)

    def get_cell(self, host: str, column: str) -> Text:
        """What `host`'s cell in `column` says, in its styles (without the cursor's), as Rich text.

        Raises:
            KeyError: For a host the table does not know.
        """
        if host not in self._known:
            raise KeyError(f"no host {host!r} in the fleet table")
        justify: Justify = next((c.justify for c in self._columns if c.key == column), "left")
        return self._painter.text(self._cells_of(host).get(column, ()), justify)

    @property
    def shown_hosts(self) -> list[str]:
        """Hosts with a row under the current filter, in row order."""
        return list(self._shown)

    @property
    def hosts(self) -> list[str]:
        """Every host the table knows, shown or filtered out, in the order they were added."""
        return list(self._hosts)

    def hosts_in_view(self, margin: int = 0) -> list[str]:
        """Hosts whose rows are on screen, and `margin` rows above and below them, in row order."""
        first = self.scroll_offset.y
        rows = max(0, self.size.height - 1)  # the header takes the first line
        return self._shown[max(0, first - margin) : first + rows + margin]

    @property
    def columns(self) -> tuple[Column, ...]:
        """The columns of the layout in use, left to right (each also has `CELL_PADDING` around it)."""
        return self._columns

    def header_label(self, column: str) -> str:
        """The header text of `column`, with the sort arrow if rows are ordered by it."""
        return self._labels.get(column, "")

    # -- cursor ---------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """Rows under the current filter."""
        return len(self._shown)

    @property
    def cursor_host(self) -> str | None:
        """The host under the row cursor."""
        return self._shown[self._cursor] if self._shown else None

    def get_row_index(self, host: str) -> int:
        """The row index of `host`.

        Raises:
            KeyError: If `host` has no row (unknown, or hidden by the filter).
        """
        try:
            return self._rows[host]
        except KeyError:
            raise KeyError(f"{host!r} has no row in the fleet table") from None

    def cursor_moved(self) -> None:
        """Tell the screen when the cursor is on another host."""
        host = self.cursor_host
        if host != self._announced:
            self._announced = host
            self.post_message(self.HostHighlighted(self, host))

    # -- filter, marks, sort --------------------------------------------------------------------

    def set_filter(self, keep: Callable[[str], bool] | None) -> None:
        """Show only hosts for which `keep` is true (`None`: every host), keeping the cursor's host."""
        self._keep = keep
        host = self.cursor_host
        self._show(self._ordered(self._hosts if keep is None else [name for name in self._hosts if keep(name)]))
        self._hover = None
        if host in self._rows:
            self._cursor = self._rows[host]
        else:
            self._cursor = 0
            self.scroll_to(y=0, animate=False, force=True)
        self._resize()
        self._scroll_to_cursor()
        self.refresh()
        self.cursor_moved()

    def toggle_mark(self, host: str) -> bool:
        """Mark or unmark `host`; returns whether it is marked now."""
        if host in self.marked:
            self.marked.discard(host)
        else:
            self.marked.add(host)
        self._write(host)
        return host in self.marked

    def set_marks(self, hosts: Iterable[str]) -> None:
        """Make exactly `hosts` the marked ones."""
        wanted = set(hosts)
        changed = wanted ^ self.marked
        self.marked = wanted
        for host in changed:
            if host in self._known:
                self._write(host)

    def sort_by(self, key: SortKey, *, reverse: bool = False) -> None:
        """Order rows by `key`, in its natural direction unless `reverse`, keeping the cursor's host."""
        self.sort_key = key
        self.sort_reverse = reverse
        self._label_columns()
        self._resort()

    def cycle_sort(self) -> SortKey:
        """Step to the next sort column, in its natural direction."""
        self.sort_by(SORT_CYCLE[(SORT_CYCLE.index(self.sort_key) + 1) % len(SORT_CYCLE)])
        return self.sort_key

    def flip_sort(self) -> None:
        """Reverse the current order."""
        self.sort_by(self.sort_key, reverse=not self.sort_reverse)

    def header_clicked(self, x: int) -> None:
        """Sort by the clicked column; clicking the sorted column again reverses it."""
        end = 0
        for column in self._columns:
            end += column.width + CELL_PADDING
            if x < end:
                break
        else:
            return
        if column.key == self.sort_key:
            self.flip_sort()
            return
        for key in SORT_CYCLE:  # the mark, status and alert columns do not sort
            if key == column.key:
                self.sort_by(key)

    # -- rows -----------------------------------------------------------------------------------

    def _fit(self, available: int) -> None:
        """Take the layout `available` cells call for; a new one redraws every row's runs."""
        host_width = min(HOST_WIDTH_MAX, max([len(host) for host in self._hosts] + [4]))
        columns, trend = fit_columns(max(available, 0), host_width)
        if columns == self._columns:
            return
        self._columns, self._trend = columns, trend
        self._specs = {host: self._cells(host) for host in self._hosts}
        self._label_columns()
        self.refresh()

    def _show(self, hosts: list[str]) -> None:
        """Make `hosts` the rows, in this order."""
        self._shown = hosts
        self._rows = {host: index for index, host in enumerate(hosts)}
        self._cursor = max(0, min(self._cursor, len(hosts) - 1))

    def _write(self, host: str, view: range | None = None) -> bool:
        """Recompute `host`'s runs, repainting its row if they changed and it is in view; returns whether it may move.

        Args:
            host: The host whose sample, trend, badge or mark changed.
            view: The rows in view, when the caller already knows them.

        Returns:
            Whether the row may have to move: its sort column changed (never while sorted by name).
        """
        row = self._rows.get(host)
        by_name = self.sort_key == "host"
        if by_name and (row is None or row not in (self._view() if view is None else view)):
            # Sorted by name, new numbers never move a row, so one out of view needs nothing now: its runs
            # are built from its latest sample when it is painted (`_cells_of`).
            self._specs.pop(host, None)
            return False
        old = self._specs.get(host)
        new = self._cells(host)
        if new == old:
            return False  # the old dict stays: painted strips are keyed by its identity
        self._specs[host] = new
        if row is None:
            return False
        self._refresh_row(row, view)
        return not by_name and (old is None or old[self.sort_key] != new[self.sort_key])

    def _resort(self) -> None:
        """Put rows in sort order if they are not, keeping the cursor on its host."""
        ordered = self._ordered(self._shown)
        if ordered == self._shown:
            return  # most drains leave the order as it was
        host = self.cursor_host
        self._show(ordered)
        if host is not None:
            self._cursor = self._rows[host]
        self._scroll_to_cursor()
        self.refresh()

    def _ordered(self, hosts: Sequence[str]) -> list[str]:
        return sort_hosts(hosts, self.sort_key, self.sort_reverse, self._samples.get, self._name_key)

    def _name_key(self, host: str) -> NameKey:
        key = self._names.get(host)
        if key is None:
            key = self._names[host] = natural_key(host)
        return key

    def _label_columns(self) -> None:
        """Put the sort arrow on the sorted column's header."""
        self._labels = header_labels(self._columns, self.sort_key, self.sort_reverse)
        self.refresh(Region(0, 0, self.size.width, 1))

    # -- cells ----------------------------------------------------------------------------------

    def _cells_of(self, host: str) -> dict[str, Spec]:
        cells = self._specs.get(host)
        if cells is None:
            cells = self._specs[host] = self._cells(host)
        return cells

    def _cells(self, host: str) -> dict[str, Spec]:
        trend = self._trend_text(host) if self._trend else ""
        marked = host in self.marked
        return row_cells(host, self._samples.get(host), marked=marked, trend=trend, badge=self._badges.get(host))

    def _trend_text(self, host: str) -> str:
        """The host's sparkline, redrawn only when its peaks (compared by identity) or the width changed."""
        peaks = self._peaks.get(host, ())
        cached = self._trends.get(host)
        if cached is not None and cached[0] is peaks and len(cached[1]) == self._trend:
            return cached[1]
        text = sparkline(peaks, self._trend)
        self._trends[host] = (peaks, text)
        return text

    # -- painting -------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        """The header on the first line, then the rows from the scroll offset, each from its cached strip."""
        width = self.size.width  # into the scrollbar gutter too, as DataTable did, while no scrollbar covers it
        if y == 0:
            return self._painter.header(self._columns, self._labels, width)
        row = self.scroll_offset.y + y - 1
        if row >= len(self._shown):
            return self._painter.blank(width)
        host = self._shown[row]
        cursor, hover = row == self._cursor, row == self._hover
        return self._painter.row(host, self._columns, self._cells_of(host), width, cursor=cursor, hover=hover)

    def _restyle(self, _theme: Theme | None = None) -> None:
        """Repaint everything in the current styles (a new theme, or focus gained or lost)."""
        self._painter.forget()
        self.refresh()
