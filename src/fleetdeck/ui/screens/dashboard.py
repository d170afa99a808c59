"""The dashboard: the fleet's live health, one row per host, polled on a timer.

Each poll samples every host concurrently through the injected `HealthSource`, applies the results to the
table in one `batch_update`, and only then arms the next poll with `set_timer`, so a slow host stretches
the interval instead of stacking polls on top of each other (dolphie's refresh loop). A host that raises or
does not answer in time becomes a `down` row with the reason; a sample older than a few intervals is shown
as `stale`. The clock is injected so tests and snapshots are deterministic.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header

from fleetdeck.core.health import HealthSample, HealthSource
from fleetdeck.ui.widgets.health_detail import HealthDetail
from fleetdeck.ui.widgets.host_table import TREND_WIDTH, FleetTable

STALE_AFTER_POLLS = 3
"""A sample older than this many refresh intervals is shown as stale rather than trusted."""
MIN_SAMPLE_TIMEOUT_S = 5.0
"""A host gets at least this long to answer, however short the refresh interval."""


class DashboardScreen(Screen[None]):
    """Live health of every host the source knows.

    Args:
        source: Where samples come from.
        refresh_s: Seconds between the end of one poll and the start of the next.
        clock: Epoch-seconds clock used to judge sample age.
    """

    BINDINGS = [
        Binding("s", "cycle_sort", "Sort", id="dashboard.sort"),
        Binding("r", "refresh", "Refresh", id="dashboard.refresh"),
    ]

    def __init__(self, source: HealthSource, *, refresh_s: float, clock: Callable[[], float]) -> None:
        super().__init__()
        self._source = source
        self._refresh_s = refresh_s
        self._clock = clock
        self._cpu_history: dict[str, deque[float | None]] = {}
        self._timer: Timer | None = None
        self._polling = False

    @property
    def sample_timeout_s(self) -> float:
        """How long one host may take to answer before it is reported down."""
        return max(MIN_SAMPLE_TIMEOUT_S, 2 * self._refresh_s)

    def compose(self) -> ComposeResult:
        """Header, the fleet table, the selected host's details, and the key bindings."""
        yield Header(show_clock=False, icon="◆")
        yield FleetTable(self._source.hosts, id="fleet")
        with VerticalScroll(id="detail-pane"):
            yield HealthDetail(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        """Show the waiting state and start polling at once."""
        self.query_one(FleetTable).focus()
        self._show_detail()
        self._start_poll()

    def action_cycle_sort(self) -> None:
        """Order the rows by the next column."""
        self.query_one(FleetTable).cycle_sort()

    def action_refresh(self) -> None:
        """Poll now instead of waiting for the timer; ignored while a poll is running."""
        if self._polling:
            return
        if self._timer is not None:
            self._timer.stop()
        self._start_poll()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Follow the cursor with the detail pane."""
        self._show_detail()

    def _start_poll(self) -> None:
        self._polling = True
        self.run_worker(self._poll(), name="health-poll", group="health-poll", exclusive=True)

    async def _poll(self) -> None:
        """Sample every host at once, show the results, then arm the next poll."""
        try:
            samples = await asyncio.gather(*(self._sample(host) for host in self._source.hosts))
        finally:
            self._polling = False
        self._apply(samples)
        self._timer = self.set_timer(self._refresh_s, self._start_poll, name="health-poll")

    async def _sample(self, host: str) -> HealthSample:
        """One host's sample; failures become a `down` sample so other hosts still show."""
        timeout = self.sample_timeout_s
        try:
            return await asyncio.wait_for(self._source.sample(host), timeout)
        except TimeoutError:
            reason = f"no answer within {timeout:.0f}s"
        except Exception as error:
            reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        return HealthSample(host=host, time=self._clock(), status="down", reason=reason)

    def _apply(self, samples: list[HealthSample]) -> None:
        table = self.query_one(FleetTable)
        now = self._clock()
        with self.app.batch_update():
            for sample in samples:
                shown = self._judge_age(sample, now)
                history = self._cpu_history.setdefault(sample.host, deque(maxlen=TREND_WIDTH))
                history.append(shown.cpu_pct if shown.status == "up" else None)
                table.show(shown, history)
            table.resort()
            self._show_detail()

    def _judge_age(self, sample: HealthSample, now: float) -> HealthSample:
        """Mark an `up` sample stale when its numbers are too old to trust."""
        age = now - sample.time
        if sample.status != "up" or age <= STALE_AFTER_POLLS * self._refresh_s:
            return sample
        return replace(sample, status="stale", reason="no fresh sample")

    def _show_detail(self) -> None:
        table = self.query_one(FleetTable)
        host = table.cursor_host
        pane = self.query_one("#detail-pane", VerticalScroll)
        pane.border_title = host or "no host"
        sample = table.sample_for(host) if host is not None else None
        self.query_one(HealthDetail).show(sample, self._clock(), waiting_for=host)
