"""History: past runs from the store, newest first; opening one shows it in the run view from its saved output.

The list comes from `RunStore.list_runs()` and each row says how the run ended, what ran, on how many
hosts and when. Opening a run replays its record, host results and output files (`RunStore.iter_output`,
byte for byte, in the order the output arrived) into a fresh :class:`~fleetdeck.ui.run_bridge.RunBridge` in
a thread, then shows it in the same :class:`~fleetdeck.ui.screens.run.RunScreen` a live run uses, with the
same host list, tails and gathered view. Store reads block on the disk, so they never run on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from fleetdeck.core.automation.triggers import run_trigger
from fleetdeck.core.errors import FleetdeckError
from fleetdeck.core.runner.events import FINAL_STATUSES, FinalStatus, HostFinished, Output, RunFinished, RunStarted
from fleetdeck.core.runner.service import Engine
from fleetdeck.core.store import RunRecord, RunStore
from fleetdeck.ui.run_bridge import RunBridge, RunView
from fleetdeck.ui.screens.run import RunScreen
from fleetdeck.ui.widgets.key_footer import KeyFooter
from fleetdeck.ui.widgets.run_hosts import short_duration

HISTORY_LIMIT = 200
"""Runs listed; older ones stay in the store (`fleetdeck history` reaches them all)."""

_STATUS_STYLE = {
    "ok": "ok",
    "failed": "bad",
    "halted": "bad",
    "interrupted": "warn",
    "cancelled": "muted",
    "running": "active",
}
_COUNT_ORDER = (*FINAL_STATUSES, "unfinished")


def _final(status: str) -> FinalStatus:
    """A stored status as a final status (the store may hold ``unfinished`` or names from a newer version)."""
    return status if status in FINAL_STATUSES else "error"


def replay_stored_run(store: RunStore, ref: str, bridge: RunBridge) -> RunView:
    """Feed a recorded run into `bridge` from the store: its record, host results and saved output files.

    Reads every byte of every host's output (in chunks, so memory stays bounded by the bridge's rings) and
    blocks on the disk: call it from a thread and hand `bridge` to the UI only when it returns.

    Args:
        store: The run store.
        ref: A run id or any reference `RunStore.get_run` takes.
        bridge: The bridge to fill; a fresh one owned by the view that shows the run.

    Returns:
        The replayed run, marked `stored`.
    """
    record = store.get_run(ref)
    results = {result.host: result for result in store.host_results(record.id)}
    hosts = list(record.hosts) + [host for host in results if host not in record.hosts]
    bridge.handle(
        RunStarted(
            record.id,
            record.task,
            record.selector,
            tuple(hosts),
            dict(record.params),
            command=record.command,
            user=record.user,
            automatic=record.automatic,
            reason=record.reason,
            time=record.started,
        )
    )
    view = bridge.run(record.id)
    view.stored = True
    for name in hosts:
        for stream, data in store.iter_output(record.id, name):
            bridge.handle(Output(record.id, name, stream, data, time=record.started))
        result = results.get(name)
        if result is not None:
            view.host(name).started = result.started
            bridge.handle(
                HostFinished(
                    record.id,
                    name,
                    _final(result.status),
                    result.exit_status,
                    result.duration_s or 0.0,
                    result.error,
                    result.step,
                    result.kill_confirmed,
                    time=result.finished or record.started,
                )
            )
        elif record.status == "interrupted":
            bridge.handle(
                HostFinished(record.id, name, "cancelled", None, 0.0, "no result recorded: the run was interrupted")
            )
    if record.finished is not None:
        bridge.handle(
            RunFinished(
                record.id,
                dict(record.counts),
                record.exit_code or 0,
                record.duration_s or 0.0,
                halted=record.halted,
                cancelled=record.cancelled,
                time=record.finished,
            )
        )
    return view


def counts_text(record: RunRecord) -> str:
    """Host outcomes of a run, e.g. ``ok 12 · failed 1``."""
    counts = record.counts
    extra = sorted(key for key in counts if key not in _COUNT_ORDER)
    parts = [f"{status} {counts[status]}" for status in (*_COUNT_ORDER, *extra) if counts.get(status)]
    return " · ".join(parts) or "—"


class RunsTable(DataTable[Text]):
    """Past runs, one keyed row each; status colours come from the theme via component classes."""

    COMPONENT_CLASSES = {
        "runs-table--ok",
        "runs-table--bad",
        "runs-table--warn",
        "runs-table--active",
        "runs-table--muted",
        "runs-table--auto",
    }

    DEFAULT_CSS = """
    RunsTable > .runs-table--ok { color: $health-ok; }
    RunsTable > .runs-table--bad { color: $health-crit; text-style: bold; }
    RunsTable > .runs-table--warn { color: $health-warn; }
    RunsTable > .runs-table--active { color: $primary; }
    RunsTable > .runs-table--muted { color: $muted; }
    RunsTable > .runs-table--auto { color: $accent; text-style: bold; }
    """

    def style_for(self, name: str) -> Style:
        """A resolved component style."""
        return self.get_component_rich_style(f"runs-table--{name}", partial=True)


class HistoryScreen(Screen[None]):
    """Recorded runs; `Enter` opens one in the run view.

    Args:
        engine: Owns the store; also prepares reruns of failed hosts from an opened run.
        bridge: The console's live run bridge; reruns started from an opened run go there. Without it,
            an opened run is read-only.
        limit: How many of the newest runs to list.
        clock: Epoch-seconds clock handed to the run view.
    """

    CSS_PATH = "../styles/history.tcss"
    AUTO_FOCUS = "#history-runs"

    BINDINGS = [
        Binding("escape", "back", "Back", id="history.back"),
        Binding("enter", "open_run", "Open", id="history.open"),
        Binding("r", "reload", "Reload", id="history.reload"),
    ]

    def __init__(
        self,
        engine: Engine,
        *,
        bridge: RunBridge | None = None,
        limit: int = HISTORY_LIMIT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.engine = engine
        self._bridge = bridge
        self._limit = limit
        self._clock = clock
        self._records: dict[str, RunRecord] = {}
        self.loaded = False
        """Whether the first listing has arrived (tests wait on it)."""

    def compose(self) -> ComposeResult:
        """The runs table, the selected run's details and the key bar."""
        yield Header(icon="◆")
        yield RunsTable(cursor_type="row", id="history-runs")
        yield Static("", id="history-detail", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        """Create the columns and read the store."""
        table = self.query_one(RunsTable)
        table.border_title = "history"
        # Widths fit 120 columns without sideways scrolling; the detail pane has the full text.
        for key, label, width in (
            ("status", "status", 11),
            ("id", "run", 20),
            ("trigger", "trigger", 12),
            ("task", "task", 14),
            ("targets", "targets", 10),
            ("hosts", "hosts", 5),
            ("started", "started", 14),
            ("time", "time", 6),
            ("outcome", "outcome", 8),
        ):
            table.add_column(Text(label, justify="right" if key in ("hosts", "time") else "left"), key=key, width=width)
        self.action_reload()

    def action_reload(self) -> None:
        """Read the runs again (in a thread: the store blocks on disk)."""
        self.run_worker(self._load(), group="history-load", exclusive=True)

    async def _load(self) -> None:
        records = await asyncio.to_thread(self.engine.store.list_runs, self._limit)
        table = self.query_one(RunsTable)
        selected = self._cursor_run()
        self._records = {record.id: record for record in records}
        with self.app.batch_update():
            table.clear()
            for record in records:
                table.add_row(*self._cells(table, record), key=record.id)
            if selected in self._records:
                table.move_cursor(row=table.get_row_index(selected), animate=False)
        table.border_title = f"history · {len(records)} run{'s' if len(records) != 1 else ''}"
        table.border_subtitle = "Enter opens a run" if records else ""
        self.loaded = True
        self._show_detail()

    def _cells(self, table: RunsTable, record: RunRecord) -> list[Text]:
        what = record.task if record.command is None else f"exec {record.command}"
        started = time.strftime("%m-%d %H:%M:%S", time.localtime(record.started))
        return [
            Text(record.status, style=table.style_for(_STATUS_STYLE.get(record.status, "muted"))),
            Text(record.id),
            self._trigger_cell(table, record),
            Text(what, no_wrap=True, overflow="ellipsis"),
            Text(record.selector, no_wrap=True, overflow="ellipsis"),
            Text(str(len(record.hosts)), justify="right"),
            Text(started),
            Text(short_duration(record.duration_s), justify="right"),
            Text(counts_text(record), no_wrap=True, overflow="ellipsis"),
        ]

    @staticmethod
    def _trigger_cell(table: RunsTable, record: RunRecord) -> Text:
        """Blank for a run a person started; `sched NAME` or `auto RULE` for one a schedule or an alert did."""
        trigger = run_trigger(record.automatic, record.reason)
        if trigger is None:
            return Text("")
        badge = {"schedule": "sched", "remediation": "auto"}.get(trigger.kind, "auto")
        cell = Text(badge, style=table.style_for("auto"), no_wrap=True, overflow="ellipsis")
        if trigger.name:
            cell.append(f" {trigger.name}")
        return cell

    def _cursor_run(self) -> str | None:
        table = self.query_one(RunsTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The detail line follows the cursor."""
        self._show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row opens the run."""
        self.action_open_run()

    def _show_detail(self) -> None:
        record = self._records.get(self._cursor_run() or "")
        detail = self.query_one("#history-detail", Static)
        if record is None:
            detail.update("No runs recorded yet." if self.loaded and not self._records else "")
            return
        params = ", ".join(f"{k}={v}" for k, v in record.params.items()) or "none"
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.started))
        exit_code = record.exit_code if record.exit_code is not None else "—"
        count = len(record.hosts)
        lines = [
            f"run {record.id} · {record.status} · exit code {exit_code} · started {started}"
            f" by {record.user or 'unknown'}" + (" · automatic" if record.automatic else ""),
            f"targets {record.selector} ({count} host{'s' if count != 1 else ''}) · {counts_text(record)}"
            f" · params {params}",
        ]
        if record.command is not None:
            lines.append(f"command {record.command}")
        if record.reason:
            lines.append(f"reason {record.reason}")
        detail.update("\n".join(lines))

    def action_open_run(self) -> None:
        """Replay the selected run from the store and show it in the run view."""
        run_id = self._cursor_run()
        if run_id is not None:
            self.run_worker(self._open(run_id), group="history-open", exclusive=True)

    async def _open(self, run_id: str) -> None:
        bridge = RunBridge()
        try:
            await asyncio.to_thread(replay_stored_run, self.engine.store, run_id, bridge)
        except (FleetdeckError, OSError) as exc:
            self.notify(str(exc), title=f"Cannot open run {run_id}", severity="error", markup=False)
            return
        self.app.push_screen(
            RunScreen(self.engine, bridge, run_id=run_id, launch_bridge=self._bridge, clock=self._clock)
        )

    def action_back(self) -> None:
        """Leave the history."""
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
