"""The dashboard: the fleet's live health, one row per host, with the selected host's detail underneath.

The health collector pushes samples into the context's `HealthBoard` at its own pace; this screen drains
the board's dirty hosts ten times a second and applies them in one `batch_update`, so only rows of hosts
that changed are touched and only rows in view whose text changed are repainted (dolphie's refresh loop, fed
by the board instead of polls). While another screen covers it the dashboard drains nothing; the hosts stay
dirty on the board and are drawn on its first tick back. Keys follow k9s: `/` filters, `space` marks,
`Esc` backs out; sorting, marking all shown hosts and fetching a host's top processes have their own keys.
"""

from __future__ import annotations

import time

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Header

from fleetdeck.core.health.sample import HealthSample
from fleetdeck.core.health.series import metric_value
from fleetdeck.core.health.top import SortKey as TopKey
from fleetdeck.ui.context import HISTORY_WINDOW_S, ConsoleContext
from fleetdeck.ui.widgets.filter_bar import FilterBar, HostFilter
from fleetdeck.ui.widgets.health_detail import HealthDetail
from fleetdeck.ui.widgets.host_cells import TREND_BUCKET_S, TREND_WIDTH
from fleetdeck.ui.widgets.host_table import FleetTable
from fleetdeck.ui.widgets.key_footer import KeyFooter
from fleetdeck.ui.widgets.metric_graph import GraphKind, MetricGraph
from fleetdeck.ui.widgets.sparkline_text import PeakTrend
from fleetdeck.ui.widgets.top_panel import TopPanel

FILTER_WAIT_S = 0.1
"""Seconds a typed filter waits before the rows follow it, so a burst of keystrokes rebuilds them once."""
APPLY_S = 1.0
"""Seconds between drains, each applying to the table the hosts that changed. Samples arrive every interval
(2 s) per host, so with hundreds of hosts nearly every drain at 10 Hz would change a visible row; once a second
keeps every number within half a tick of its host and repaints each changed row once. The detail pane's
"sampled … ago" (shown for a stale or down host) moves on the same beat, so one repaint a second covers both.
A timer at this pace rather than a 10 Hz one that mostly found nothing to do: an idle console's clock work
per second went from 10 drains to one."""

GRAPHS: tuple[tuple[str, str, GraphKind], ...] = (
    ("cpu_pct", "cpu", "pct"),
    ("mem_used_pct", "mem", "pct"),
    ("load_per_core", "load/core", "load"),
    ("net_rx_bps", "net rx/s", "rate"),
    ("net_tx_bps", "net tx/s", "rate"),
)
"""The detail pane's history graphs: board metric, label, scale."""


class DashboardScreen(Screen[None]):
    """Live health of every watched host.

    Args:
        context: The board to drain, the inventory for selector filters, `top` for process listings and
            the clock for sample ages.
    """

    CSS_PATH = "../styles/dashboard.tcss"
    AUTO_FOCUS = "#fleet"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="dashboard.filter"),
        Binding("s", "cycle_sort", "Sort", id="dashboard.sort"),
        Binding("S", "flip_sort", "Reverse", id="dashboard.sort-reverse", show=False),
        Binding("space", "toggle_mark", "Mark", id="dashboard.mark"),
        Binding("a", "mark_shown", "Mark all", id="dashboard.mark-shown", show=False),
        Binding("u", "clear_marks", "Unmark all", id="dashboard.clear-marks", show=False),
        Binding("p", "top('cpu')", "Top", id="dashboard.top-cpu"),
        Binding("m", "top('mem')", "Top mem", id="dashboard.top-mem", show=False),
        Binding("escape", "back", "Back", id="dashboard.back", show=False),
    ]

    def __init__(self, context: ConsoleContext) -> None:
        super().__init__()
        self._ctx = context
        self._board = context.board
        self._detail_host: str | None = None
        self._top_host: str | None = None
        self._trends: dict[str, PeakTrend] = {}
        self._pending_filter: tuple[HostFilter | None] | None = None
        self._filter_timer: Timer | None = None
        self._in_sight: set[str] | None = None
        self._applied_at = float("-inf")
        self.applied_filter: HostFilter | None = None
        """The filter the rows currently obey (typing reaches it `FILTER_WAIT_S` later)."""

    def compose(self) -> ComposeResult:
        """Header, filter bar, fleet table, the selected host's detail, and the key bindings."""
        yield Header(show_clock=False, icon="◆")
        bar = FilterBar(self._ctx.inventory, id="filter-bar")
        bar.display = False
        yield bar
        yield FleetTable(self._board.hosts, id="fleet")
        with Horizontal(id="detail-pane"):
            with VerticalScroll(id="detail-info"):
                yield HealthDetail(id="detail")
            with Vertical(id="detail-side"):
                with Vertical(id="graphs"):
                    for metric, label, kind in GRAPHS:
                        yield MetricGraph(label, kind, window_s=HISTORY_WINDOW_S, id=_graph_id(metric))
                yield TopPanel(id="top")
        yield KeyFooter()

    def on_mount(self) -> None:
        """Draw everything the board already knows, then drain it on a clock."""
        self._board.drain()
        self._apply(list(self._board.latest.values()))
        self._show_badges()
        self._show_detail()
        self.set_interval(APPLY_S, self.drain, name="dashboard-drain")

    def on_screen_resume(self) -> None:
        """Back on top: show what changed meanwhile at once, not at the next tick of the clock."""
        self.drain()

    @property
    def table(self) -> FleetTable:
        """The fleet table."""
        return self.query_one(FleetTable)

    def marked_hosts(self) -> list[str]:
        """Hosts the operator marked, in the order the board lists them (for the task picker)."""
        marked = self.table.marked
        return [host for host in self.table.hosts if host in marked]

    # -- the drain clock ------------------------------------------------------------------------

    def drain(self) -> int:
        """Apply a new filter, if one was typed, and the hosts that changed since the last drain.

        Skipped while another screen (a modal included, as dolphie does) is on top: the hosts stay dirty on
        the board until this screen is back.

        Returns:
            How many hosts changed.
        """
        if self.app.screen is not self:
            return 0
        self._take_filter()
        now = time.monotonic()
        if now - self._applied_at < APPLY_S / 2:
            return 0  # drained on resume a moment ago
        self._applied_at = now
        samples = self._board.drain()
        if samples:
            self._apply(samples)
        self._show_badges()
        self._report_in_sight()
        self._show_info()  # The pane's "sampled … ago", in the same repaint as the rows rather than its own.
        return len(samples)

    def _report_in_sight(self) -> None:
        """Tell the collector which hosts the operator can see: the rows in view and half a screen around them
        (so scrolling finds them fresh), the cursor's host and every host with a firing alert."""
        table = self.table
        if self._ctx.in_sight is None or not table.size.height:
            return  # nothing collected, or not laid out yet
        hosts = set(table.hosts_in_view(margin=max(1, table.size.height // 2)))
        if table.cursor_host is not None:
            hosts.add(table.cursor_host)
        if self._ctx.alerts is not None:
            hosts.update(self._ctx.alerts.badges())
        if hosts != self._in_sight:
            self._in_sight = hosts
            self._ctx.in_sight(hosts)

    def _show_badges(self) -> None:
        """Put each up host's firing alerts in its alert column."""
        if self._ctx.alerts is not None:
            self.table.set_badges(self._ctx.alerts.badges())

    def _apply(self, samples: list[HealthSample]) -> None:
        table = self.table
        with self.app.batch_update():
            table.update_hosts((sample, self._trend(sample.host)) for sample in samples)
            self._update_title()
            cursor = table.cursor_host
            if cursor is not None and any(sample.host == cursor for sample in samples):
                self._show_detail()

    def _trend(self, host: str) -> tuple[float | None, ...]:
        """The host's CPU peaks, one per trend character, updated from the points added since last drain."""
        series = self._board.history.series(host, "cpu_pct")
        if series is None:
            return ()
        trend = self._trends.get(host)
        if trend is None:
            trend = self._trends[host] = PeakTrend(TREND_BUCKET_S, TREND_WIDTH)
        return trend.update(series.recent)

    def _update_title(self) -> None:
        table = self.table
        total = len(table.hosts)
        parts = [f"hosts {total}"]
        if len(table.shown_hosts) != total:
            parts.append(f"{len(table.shown_hosts)} shown")
        statuses = [sample.status for sample in self._board.latest.values()]
        for status in ("down", "stale"):
            count = statuses.count(status)
            if count:
                parts.append(f"{count} {status}")
        if table.marked:
            parts.append(f"{len(table.marked)} marked")
        title = " · ".join(parts)
        if table.border_title != title:
            table.border_title = title

    # -- detail pane ----------------------------------------------------------------------------

    @on(FleetTable.HostHighlighted, "#fleet")
    def _cursor_moved(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        """Point the detail pane at the cursor's host: its info, its graphs, and no stale top listing."""
        host = self.table.cursor_host
        pane = self.query_one("#detail-pane")
        if host != self._detail_host:
            self._detail_host = host
            pane.border_title = host or "no host"
            pane.border_subtitle = self._where(host)
            if self._top_host is not None and self._top_host != host:
                self._hide_top()
        self._show_info()
        sample = self.table.sample_for(host) if host is not None else None
        history = self._board.history
        for metric, _, _ in GRAPHS:
            series = history.series(host, metric) if host is not None else None
            current = metric_value(sample, metric) if sample is not None and sample.status != "down" else None
            graph = self.query_one(f"#{_graph_id(metric)}", MetricGraph)
            graph.show(series.recent if series is not None else (), current)

    def _show_info(self) -> None:
        host = self._detail_host
        sample = self.table.sample_for(host) if host is not None else None
        self.query_one(HealthDetail).show(sample, self._ctx.clock(), waiting_for=host)

    def _where(self, host: str | None) -> str:
        """Address and groups of an inventory host, for the pane's subtitle."""
        if host is None or host not in self._ctx.inventory:
            return ""
        entry = self._ctx.inventory.get(host)
        where = "this machine" if entry.is_local else entry.address
        groups = " ".join(f"@{group}" for group in entry.groups)
        return f"{where} · {groups}" if groups else where

    # -- actions --------------------------------------------------------------------------------

    def action_filter(self) -> None:
        """Open the filter bar."""
        self.query_one(FilterBar).open()

    def action_cycle_sort(self) -> None:
        """Order the rows by the next column."""
        self.table.cycle_sort()

    def action_flip_sort(self) -> None:
        """Reverse the order."""
        self.table.flip_sort()

    def action_toggle_mark(self) -> None:
        """Mark or unmark the cursor's host."""
        host = self.table.cursor_host
        if host is not None:
            self.table.toggle_mark(host)
            self._update_title()

    def action_mark_shown(self) -> None:
        """Mark every host the filter shows (marks on hidden hosts stay)."""
        self.table.set_marks(self.table.marked | set(self.table.shown_hosts))
        self._update_title()

    def action_clear_marks(self) -> None:
        """Unmark every host, shown or not."""
        self.table.set_marks(())
        self._update_title()

    def action_top(self, key: str) -> None:
        """Fetch the cursor host's top processes by `key` (`cpu` or `mem`) into the detail pane."""
        top = self._ctx.top
        host = self.table.cursor_host
        if top is None:
            self.notify("Process listings are not available in this console.", severity="warning")
            return
        if host is None:
            return
        by: TopKey = "mem" if key == "mem" else "cpu"
        self._top_host = host
        self.query_one("#detail-pane").add_class("-top")
        panel = self.query_one(TopPanel)
        panel.fetching(host, by)
        self.run_worker(self._fetch_top(host, by), name="top", group="top", exclusive=True, exit_on_error=False)

    async def _fetch_top(self, host: str, key: TopKey) -> None:
        """Fetch in a worker; a failure is shown in the panel, never raised into the app."""
        top = self._ctx.top
        assert top is not None
        try:
            processes = await top(host, key)
        except Exception as error:
            if self._top_host == host:
                self.query_one(TopPanel).failed(host, key, str(error) or type(error).__name__)
            return
        if self._top_host == host:
            self.query_one(TopPanel).show(host, key, processes)

    def action_back(self) -> None:
        """Close the process listing, else drop the filter."""
        if self._top_host is not None:
            self._hide_top()
            return
        bar = self.query_one(FilterBar)
        if bar.display or bar.host_filter is not None:
            bar.action_clear()

    def _hide_top(self) -> None:
        self._top_host = None
        self.workers.cancel_group(self, "top")
        self.query_one("#detail-pane").remove_class("-top")

    # -- filter ---------------------------------------------------------------------------------

    @on(FilterBar.Changed)
    def _filter_changed(self, event: FilterBar.Changed) -> None:
        # Applied a moment later, so a burst of keystrokes rebuilds the rows once, not per key.
        self._pending_filter = (event.host_filter,)
        if self._filter_timer is None:
            self._filter_timer = self.set_timer(FILTER_WAIT_S, self._take_filter, name="dashboard-filter")

    def _take_filter(self) -> None:
        """Make the rows follow the last filter typed, if one is waiting (and this screen is on top)."""
        self._filter_timer = None
        if self._pending_filter is None or self.app.screen is not self:
            return
        (host_filter,) = self._pending_filter
        self._pending_filter = None
        self._apply_filter(host_filter)

    def _apply_filter(self, host_filter: HostFilter | None) -> None:
        self.applied_filter = host_filter
        table = self.table
        with self.app.batch_update():
            table.set_filter(None if host_filter is None else host_filter.matches)
            self.query_one(FilterBar).show_count(len(table.shown_hosts), len(table.hosts))
            self._update_title()
            self._show_detail()

    @on(FilterBar.Done)
    def _filter_done(self) -> None:
        self.table.focus()


def _graph_id(metric: str) -> str:
    return f"graph-{metric.replace('_', '-')}"
