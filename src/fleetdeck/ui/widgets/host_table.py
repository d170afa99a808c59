"""The fleet table: one keyed row per host, rewritten cell by cell as samples are drained.

Every cell is first described as a small tuple of `(text, style name)` runs (see `host_cells`); it is
rebuilt as Rich text and written with `update_cell` only when that tuple differs from what the row holds,
and only for rows in view: a row scrolled out of sight is brought up to date when it scrolls back in. So
a drain of a thousand changed hosts costs a thousand tuple comparisons and a screenful of cell writes
(dolphie's keyed updates, plus writing only what is visible). Column widths are fixed and chosen for the
table's width (narrow terminals get a shorter trend and lose the uptime column, which the detail pane
still shows), so a drain never re-measures the table. A filter only decides which rows exist; every
host's cells are kept, so a filtered-out host is current the moment it comes back. Cell colours come from
component classes the stylesheet maps onto theme variables.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from rich.style import Style
from rich.text import Text
from textual import events
from textual.theme import Theme
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from fleetdeck.core.health import HealthSample
from fleetdeck.core.nodeset import natural_key
from fleetdeck.ui.widgets.host_cells import (
    ASCENDING_FIRST,
    HOST_WIDTH_MAX,
    SORT_CYCLE,
    TREND_WIDTH,
    Column,
    SortKey,
    Spec,
    fit_columns,
    row_cells,
    sort_value,
)
from fleetdeck.ui.widgets.sparkline_text import sparkline


class FleetTable(DataTable[Text]):
    """Hosts and their latest numbers, sortable, filterable and markable.

    Args:
        hosts: Host names, one row each until a filter says otherwise.
        id: Widget id.
        classes: CSS classes.
    """

    COMPONENT_CLASSES = {
        "fleet-table--ok",
        "fleet-table--warn",
        "fleet-table--crit",
        "fleet-table--down",
        "fleet-table--stale",
        "fleet-table--muted",
        "fleet-table--trend",
        "fleet-table--mark",
    }

    def __init__(self, hosts: Sequence[str], *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(cursor_type="row", id=id, classes=classes)
        self._hosts: list[str] = list(dict.fromkeys(hosts))
        self._samples: dict[str, HealthSample] = {}
        self._peaks: dict[str, Sequence[float | None]] = {}
        self._trends: dict[str, tuple[Sequence[float | None], str]] = {}
        self._specs: dict[str, dict[str, Spec]] = {}
        self._written: dict[str, dict[str, Spec]] = {}
        self._names: dict[str, tuple[tuple[str | int, ...], str]] = {}
        self._styles: dict[str, Style] = {}
        self._columns: tuple[Column, ...] = ()
        self._trend = TREND_WIDTH
        self._shown: list[str] = []
        self._shown_set: set[str] = set()
        self._keep: Callable[[str], bool] | None = None
        self._badges: dict[str, tuple[int, str | None]] = {}
        self.marked: set[str] = set()
        """Hosts the operator marked with `space`, kept while they are filtered out."""
        self.sort_key: SortKey = "host"
        """The column rows are ordered by."""
        self.sort_reverse = False
        """Whether the order is the opposite of the column's natural one."""

    # -- lifecycle ------------------------------------------------------------------------------

    def on_mount(self) -> None:
        """Lay out for the app's width, create a waiting row per host, and follow theme changes."""
        self.app.theme_changed_signal.subscribe(self, self._restyle)
        self._fit(self.app.size.width - 3)

    def on_resize(self, event: events.Resize) -> None:
        """Pick the layout that fits the new width, and bring rows that came into view up to date."""
        self._fit(self.scrollable_content_region.width)
        self._sync_visible()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Bring rows scrolled into view up to date."""
        super().watch_scroll_y(old_value, new_value)
        self._sync_visible()

    # -- data -----------------------------------------------------------------------------------

    def update_hosts(self, updates: Iterable[tuple[HealthSample, Sequence[float | None]]]) -> None:
        """Draw new samples, touching only cells whose text or style changed, then re-sort if needed.

        Call inside `app.batch_update()` so the table repaints once.

        Args:
            updates: Each host's latest sample (with the status to show) and its CPU trend peaks, oldest
                first, one per `TREND_BUCKET_S`; pass the same sequence object while the peaks are unchanged
                and the sparkline is not redrawn.
        """
        moved = False
        visible = set(self._visible())
        for sample, peaks in updates:
            host = sample.host
            if host not in self._specs:
                self._hosts.append(host)
                if self._keep is None or self._keep(host):
                    self._add_rows([host])
                moved = True
            self._samples[host] = sample
            self._peaks[host] = peaks
            moved = self._write(host, visible) or moved
        if moved:
            self._resort()
        self._sync_visible()

    def set_badges(self, badges: Mapping[str, tuple[int, str | None]]) -> None:
        """Show each up host's firing alerts (count, worst severity) in its alert column; absent hosts have none."""
        wanted = {host: badge for host, badge in badges.items() if badge[0] > 0}
        if wanted == self._badges:
            return
        changed = {host for host in wanted.keys() | self._badges.keys() if wanted.get(host) != self._badges.get(host)}
        self._badges = wanted
        for host in changed:
            if host in self._specs:
                self._write(host)

    def sample_for(self, host: str) -> HealthSample | None:
        """The sample currently shown for `host`, if one has arrived."""
        return self._samples.get(host)

    @property
    def shown_hosts(self) -> list[str]:
        """Hosts with a row under the current filter, in row order."""
        return list(self._shown)

    @property
    def hosts(self) -> list[str]:
        """Every host the table knows, shown or filtered out, in the order they were added."""
        return list(self._hosts)

    @property
    def cursor_host(self) -> str | None:
        """The host under the row cursor."""
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    # -- filter, marks, sort --------------------------------------------------------------------

    def set_filter(self, keep: Callable[[str], bool] | None) -> None:
        """Show only hosts for which `keep` is true (`None`: every host), keeping the cursor's host."""
        self._keep = keep
        shown = self._hosts if keep is None else [host for host in self._hosts if keep(host)]
        self._rebuild_rows(shown)

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
            if host in self._specs:
                self._write(host)

    def sort_by(self, key: SortKey, *, reverse: bool = False) -> None:
        """Order rows by `key`, in its natural direction unless `reverse`, keeping the cursor's host."""
        self.sort_key = key
        self.sort_reverse = reverse
        self._label_columns()
        self._resort(force=True)

    def cycle_sort(self) -> SortKey:
        """Step to the next sort column, in its natural direction."""
        self.sort_by(SORT_CYCLE[(SORT_CYCLE.index(self.sort_key) + 1) % len(SORT_CYCLE)])
        return self.sort_key

    def flip_sort(self) -> None:
        """Reverse the current order."""
        self.sort_by(self.sort_key, reverse=not self.sort_reverse)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Sort by a clicked header; clicking the sorted column again reverses it."""
        event.stop()
        key = event.column_key.value
        if key == self.sort_key:
            self.flip_sort()
        elif key in SORT_CYCLE:
            self.sort_by(key)

    # -- rows -----------------------------------------------------------------------------------

    def _fit(self, available: int) -> None:
        """Rebuild columns and rows if `available` calls for another layout."""
        host_width = min(HOST_WIDTH_MAX, max([len(host) for host in self._hosts] + [4]))
        columns, trend = fit_columns(max(available, 0), host_width)
        if columns == self._columns:
            return
        self._columns, self._trend = columns, trend
        cursor = self.cursor_host
        self._shown, self._shown_set = [], set()  # before clear(): it scrolls home, which syncs rows in view
        self.clear(columns=True)
        for column in columns:
            self.add_column(Text(column.label, justify=column.justify), key=column.key, width=column.width)
        self._label_columns()
        for host in self._hosts:
            self._specs[host] = self._cells(host)
        self._written.clear()
        shown = self._hosts if self._keep is None else [host for host in self._hosts if self._keep(host)]
        self._add_rows(self._ordered(shown))
        self._move_to(cursor)

    def _rebuild_rows(self, hosts: Sequence[str]) -> None:
        cursor = self.cursor_host
        self._shown, self._shown_set = [], set()  # before clear(): it scrolls home, which syncs rows in view
        self.clear()
        self._add_rows(self._ordered(hosts))
        self._move_to(cursor)

    def _add_rows(self, hosts: Iterable[str]) -> None:
        """Append rows blank but for the host name (which sorting reads), then fill in the rows in view."""
        blank = [Text() for _ in self._columns]
        name_at = next(index for index, column in enumerate(self._columns) if column.key == "host")
        for host in hosts:
            if host not in self._specs:
                self._specs[host] = self._cells(host)
            blank[name_at] = Text(host)
            self.add_row(*blank, key=host)
            self._written.pop(host, None)
            self._shown.append(host)
            self._shown_set.add(host)
        self._sync_visible()

    def _write(self, host: str, visible: Collection[str] | None = None) -> bool:
        """Recompute `host`'s cells (written at once if its row is in view); returns whether it may move.

        Args:
            host: The host whose sample, trend or mark changed.
            visible: Hosts in view, when the caller already knows them.
        """
        old = self._specs.get(host)
        new = self._specs[host] = self._cells(host)
        if new == old:
            return False
        shown = host in self._shown_set
        if shown and host in (self._visible() if visible is None else visible):
            self._sync(host)
        return shown and (old is None or old[self.sort_key] != new[self.sort_key])

    def _sync(self, host: str) -> None:
        """Write the cells of `host`'s row that differ from what the row holds."""
        wanted = self._specs[host]
        held = self._written.get(host)
        if held is wanted:
            return
        for column in self._columns:
            spec = wanted[column.key]
            if held is None or held.get(column.key) != spec:
                self.update_cell(host, column.key, self._text(column, spec))
        self._written[host] = wanted

    def _visible(self) -> list[str]:
        """Hosts whose rows are in view (row height is always one line)."""
        first = max(0, int(self.scroll_y))
        rows = max(0, self.scrollable_content_region.height - self.header_height)
        return self._shown[first : first + rows + 1]

    def _sync_visible(self) -> None:
        for host in self._visible():
            self._sync(host)

    def _text(self, column: Column, spec: Spec) -> Text:
        if len(spec) == 1:
            text, style = spec[0]
            return Text(text, style=self._style(style), justify=column.justify)
        return Text.assemble(*((text, self._style(style)) for text, style in spec), justify=column.justify)

    def _move_to(self, host: str | None) -> None:
        if host is not None and host in self._shown_set:
            self.move_cursor(row=self.get_row_index(host), animate=False)

    def _resort(self, *, force: bool = False) -> None:
        """Put rows in sort order if they are not, keeping the cursor on its host."""
        ordered = self._ordered(self._shown)
        if ordered == self._shown and not force:
            return  # Sorting repaints the whole table; most drains leave the order as it was.
        cursor = self.cursor_host
        self._shown = ordered
        position = {host: index for index, host in enumerate(ordered)}
        self.sort("host", key=lambda cell: position[cell.plain])
        self._move_to(cursor)
        self._sync_visible()

    def _ordered(self, hosts: Sequence[str]) -> list[str]:
        """`hosts` in the current sort order; hosts without the number always come last, by name."""
        if self.sort_key == "host":
            return sorted(hosts, key=self._name_key, reverse=self.sort_reverse)
        descending = (self.sort_key not in ASCENDING_FIRST) != self.sort_reverse
        present: list[tuple[float, tuple[tuple[str | int, ...], str], str]] = []
        missing: list[str] = []
        for host in hosts:
            value = sort_value(self._samples.get(host), self.sort_key)
            if value is None:
                missing.append(host)
            else:
                present.append((-value if descending else value, self._name_key(host), host))
        present.sort()
        return [host for _, _, host in present] + sorted(missing, key=self._name_key)

    def _name_key(self, host: str) -> tuple[tuple[str | int, ...], str]:
        key = self._names.get(host)
        if key is None:
            key = self._names[host] = natural_key(host)
        return key

    def _label_columns(self) -> None:
        """Put the sort arrow on the sorted column's header."""
        descending = (self.sort_key not in ASCENDING_FIRST) != self.sort_reverse
        for column in self._columns:
            label = column.label
            if column.key == self.sort_key:
                label = f"{label}{'▼' if descending else '▲'}" if label else "▼▲"[not descending]
            key = ColumnKey(column.key)
            if key in self.columns:
                self.columns[key].label = Text(label, justify=column.justify)
        self.refresh()

    # -- cells ----------------------------------------------------------------------------------

    def _cells(self, host: str) -> dict[str, Spec]:
        trend = self._trend_text(host) if self._trend else ""
        sample = self._samples.get(host)
        cells = row_cells(host, sample, marked=host in self.marked, trend=trend)
        badge = self._badges.get(host)
        if badge is not None and sample is not None and sample.status == "up":
            count, worst = badge
            cells["alert"] = ((f"● {count}", "crit" if worst == "critical" else "warn"),)
        return cells

    def _trend_text(self, host: str) -> str:
        """The host's sparkline, redrawn only when its peaks (compared by identity) or the width changed."""
        peaks = self._peaks.get(host, ())
        cached = self._trends.get(host)
        if cached is not None and cached[0] is peaks and len(cached[1]) == self._trend:
            return cached[1]
        text = sparkline(peaks, self._trend)
        self._trends[host] = (peaks, text)
        return text

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = Style() if not name else self.get_component_rich_style(f"fleet-table--{name}", partial=True)
            self._styles[name] = style
        return style

    def _restyle(self, _theme: Theme) -> None:
        """Redraw in the new theme's colours; cells hold resolved styles, so every row is out of date."""
        self._styles.clear()
        self._written.clear()
        with self.app.batch_update():
            self._sync_visible()
