"""The fleet table: one keyed row per host, rewritten cell by cell as samples arrive.

Rows are keyed by host name and created once; a new sample only rewrites the cells whose text or style
changed, and column widths are fixed up front, so a refresh never re-measures the table (the pattern
dolphie uses for its process list). Cell colours come from this widget's component classes, which the app
stylesheet maps onto theme variables; cells are re-rendered when the theme changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.style import Style
from rich.text import Text
from textual.theme import Theme
from textual.widgets import DataTable

from fleetdeck.core.health import HealthSample
from fleetdeck.ui.widgets.health_format import (
    MISSING,
    Level,
    compact_bytes,
    human_duration,
    load_level,
    load_per_cores,
    pct,
    pct_level,
)
from fleetdeck.ui.widgets.sparkline_text import sparkline

SortKey = Literal["host", "cpu", "mem", "disk", "load"]
SORT_CYCLE: tuple[SortKey, ...] = ("host", "cpu", "mem", "disk", "load")
"""Order in which the sort binding steps through columns; metrics sort worst first."""

TREND_WIDTH = 8
"""CPU samples drawn in the sparkline next to the CPU percentage."""

Justify = Literal["left", "right"]


@dataclass(frozen=True, slots=True)
class _Column:
    key: str
    label: str
    width: int
    justify: Justify = "right"


_COLUMNS: tuple[_Column, ...] = (
    _Column("status", "", 1, "left"),
    _Column("host", "host", 4, "left"),  # widened to the longest host name on mount
    _Column("cpu", "cpu", 4 + 1 + TREND_WIDTH, "left"),
    _Column("mem", "mem", 4),
    _Column("disk", "disk", 4),
    _Column("load", "load", 8),
    _Column("rx", "rx B/s", 6),
    _Column("tx", "tx B/s", 6),
    _Column("uptime", "uptime", 7),
)

_STATUS_DOT = "●"
_WAITING_DOT = "○"


class FleetTable(DataTable[Text]):
    """Hosts and their latest numbers.

    Args:
        hosts: Host names, one row each; rows start sorted by name.
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
    }

    def __init__(self, hosts: Sequence[str], *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(cursor_type="row", id=id, classes=classes)
        self._hosts = tuple(hosts)
        self._samples: dict[str, HealthSample] = {}
        self._trends: dict[str, tuple[float | None, ...]] = {}
        self._shown: dict[tuple[str, str], Text] = {}
        self.sort_key: SortKey = SORT_CYCLE[0]
        """The column rows are ordered by."""

    def on_mount(self) -> None:
        """Create the columns and a waiting row per host, and follow theme changes."""
        host_width = max([len(host) for host in self._hosts] + [_COLUMNS[1].width])
        for column in _COLUMNS:
            width = host_width if column.key == "host" else column.width
            self.add_column(Text(column.label, justify=column.justify), key=column.key, width=width)
        for host in self._hosts:
            self._add_row(host)
        self.app.theme_changed_signal.subscribe(self, self._restyle)
        self._sort_rows()
        self._show_sort()

    def show(self, sample: HealthSample, cpu_trend: Iterable[float | None]) -> None:
        """Draw `sample` in its host's row, touching only cells that changed.

        Call inside `app.batch_update()` when showing several hosts, so the table repaints once.

        Args:
            sample: The host's latest sample, with the status the operator should see.
            cpu_trend: Recent CPU percentages for the host, oldest first.
        """
        host = sample.host
        if (host, "host") not in self._shown:
            self._add_row(host)
        self._samples[host] = sample
        self._trends[host] = tuple(cpu_trend)
        self._write(host, self._row_cells(host))

    def sample_for(self, host: str) -> HealthSample | None:
        """The sample currently shown for `host`, if one has arrived."""
        return self._samples.get(host)

    @property
    def cursor_host(self) -> str | None:
        """The host under the row cursor."""
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def cycle_sort(self) -> SortKey:
        """Step to the next sort column and reorder the rows."""
        self.sort_key = SORT_CYCLE[(SORT_CYCLE.index(self.sort_key) + 1) % len(SORT_CYCLE)]
        self.resort()
        return self.sort_key

    def resort(self) -> None:
        """Reorder rows by `sort_key` if the order changed, keeping the cursor on the same host."""
        self._show_sort()
        current = [row.key.value for row in self.ordered_rows]
        if current == sorted(current, key=self._order_of):
            return  # Sorting redraws the whole table; most polls leave the order as it was.
        host = self.cursor_host
        self._sort_rows()
        if host is not None:
            self.move_cursor(row=self.get_row_index(host), animate=False)

    def _sort_rows(self) -> None:
        self.sort("host", key=lambda cell: self._order_of(cell.plain))

    def _order_of(self, host: str | None) -> tuple[bool, float, str]:
        """Sort key of a row: by name, or worst first with hosts lacking the number last, then by name."""
        name = host or ""
        if self.sort_key == "host":
            return (False, 0.0, name)
        sample = self._samples.get(name)
        value = None if sample is None else _sort_value(sample, self.sort_key)
        return (value is None, -(value or 0.0), name)

    def _show_sort(self) -> None:
        arrow = "▲" if self.sort_key == "host" else "▼"
        self.border_title = f"hosts · sort {self.sort_key} {arrow}"

    def _add_row(self, host: str) -> None:
        """A row drawn as waiting until its first sample, so the operator sees the whole fleet at once."""
        cells = self._row_cells(host)
        self.add_row(*(cells[column.key] for column in _COLUMNS), key=host)
        self._shown.update({(host, key): text for key, text in cells.items()})

    def _row_cells(self, host: str) -> dict[str, Text]:
        sample = self._samples.get(host)
        if sample is None:
            return self._waiting_cells(host)
        return self._cells(sample, self._trends.get(host, ()))

    def _waiting_cells(self, host: str) -> dict[str, Text]:
        muted = self._style("muted")
        cells = self._missing_cells(muted)
        cells["status"] = Text(_WAITING_DOT, style=muted)
        cells["host"] = Text(host)
        return cells

    @staticmethod
    def _missing_cells(style: Style) -> dict[str, Text]:
        """Dashes for every metric, placed where the numbers would be."""
        cells = {column.key: Text(MISSING, style=style, justify=column.justify) for column in _COLUMNS[2:]}
        cells["cpu"] = Text(f"{MISSING:>4}", style=style)
        return cells

    def _write(self, host: str, cells: dict[str, Text]) -> None:
        for key, text in cells.items():
            old = self._shown.get((host, key))
            if old is not None and _same(old, text):
                continue
            self._shown[(host, key)] = text
            self.update_cell(host, key, text)

    def _cells(self, sample: HealthSample, trend: Sequence[float | None]) -> dict[str, Text]:
        """The text and style of every cell in `sample`'s row."""
        status_style = {"up": "ok", "stale": "stale", "down": "down"}[sample.status]
        cells = {
            "status": Text(_STATUS_DOT, style=self._style(status_style)),
            "host": Text(sample.host, style=self._style("down") if sample.status == "down" else ""),
        }
        if sample.status == "down":
            return cells | self._missing_cells(self._style("muted"))
        # Old numbers are shown but not judged: colouring a stale 95% as critical would be a guess.
        judged = sample.status == "up"
        cpu = Text.assemble(
            (f"{pct(sample.cpu_pct):>4}", self._level(pct_level(sample.cpu_pct), judged)),
            " ",
            (sparkline(trend, TREND_WIDTH), self._style("trend" if judged else "muted")),
        )
        cells["cpu"] = cpu
        mem = sample.mem_used_pct
        cells["mem"] = self._right(pct(mem), self._level(pct_level(mem), judged))
        disk = sample.worst_disk_pct
        cells["disk"] = self._right(pct(disk), self._level(pct_level(disk), judged))
        cells["load"] = self._right(
            load_per_cores(sample.load1, sample.cores),
            self._level(load_level(sample.load1, sample.cores), judged),
        )
        plain = Style() if judged else self._style("muted")
        cells["rx"] = self._right(compact_bytes(sample.net_rx_bps), plain)
        cells["tx"] = self._right(compact_bytes(sample.net_tx_bps), plain)
        cells["uptime"] = self._right(human_duration(sample.uptime_s), plain)
        return cells

    def _level(self, level: Level, judged: bool) -> Style:
        """Style for a judged number; `ok` numbers stay in the plain foreground to keep the table calm."""
        if not judged:
            return self._style("muted")
        return Style() if level == "ok" else self._style(level)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"fleet-table--{name}", partial=True)

    @staticmethod
    def _right(value: str, style: Style) -> Text:
        return Text(value, style=style, justify="right")

    def _restyle(self, _theme: Theme) -> None:
        """Re-render every row in the new theme's colours; cells hold resolved styles, not variables."""
        with self.app.batch_update():
            for host in {host for host, _ in self._shown}:
                self._write(host, self._row_cells(host))


def _sort_value(sample: HealthSample, key: SortKey) -> float | None:
    """The number a metric sort orders by; load is per core so hosts of different sizes compare."""
    if key == "cpu":
        return sample.cpu_pct
    if key == "mem":
        return sample.mem_used_pct
    if key == "disk":
        return sample.worst_disk_pct
    if key == "load" and sample.load1 is not None:
        return sample.load1 / max(1, sample.cores)
    return None


def _same(a: Text, b: Text) -> bool:
    """Text equality that also compares the base style and alignment, which `Text.__eq__` ignores."""
    return a.plain == b.plain and a.style == b.style and a.spans == b.spans and a.justify == b.justify
