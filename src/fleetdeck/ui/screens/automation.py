"""Automation: schedules with their next runs, and remediation runs waiting for someone to approve them.

Everything comes from the context's `AutomationFeed`, read in a thread every `POLL_S` seconds (the
schedule state file and the approval queue are written by the daemon, in another process); the
countdown to each next run is redrawn every second in between. Next run times are the core's
(`schedule_status`); `a` approves and `d` denies the selected request after a confirmation, through
`ApprovalQueue.decide` as `fleetdeck remediation approve|deny ID` does. Approved runs start in the
daemon, not here: the console only decides.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Header, Static

from fleetdeck.core.automation.remediation import Decision, Request
from fleetdeck.core.automation.scheduler import ScheduleStatus
from fleetdeck.core.errors import FleetdeckError
from fleetdeck.core.nodeset import fold
from fleetdeck.ui.automation_feed import AutomationFeed, AutomationSnapshot
from fleetdeck.ui.widgets.confirm import ConfirmModal
from fleetdeck.ui.widgets.key_footer import KeyFooter
from fleetdeck.ui.widgets.run_hosts import short_duration

POLL_S = 3.0
"""Seconds between reads of the schedule state and the approval queue."""
TICK_S = 1.0
"""Seconds between redraws of the countdowns."""
SHORT_HEIGHT = 32
"""Below this many rows the recent decisions and the hint line give their room to the two main tables."""
MISSING = "—"

# Widths fit 120 columns; the detail pane below has the full text.
_SCHEDULE_COLUMNS = (("name", "schedule", 16), ("task", "task", 13), ("targets", "targets", 9),
                     ("cron", "cron", 11), ("next", "next run", 11), ("in", "in", 10),
                     ("last", "last run", 11), ("result", "result", 6), ("missed", "missed", 8),
                     ("enabled", "on", 3))  # fmt: skip
_REQUEST_COLUMNS = (("id", "#", 4), ("rule", "alert", 16), ("task", "task", 14), ("hosts", "hosts", 18),
                    ("requested", "requested", 11), ("waiting", "waiting", 9), ("reason", "reason", 30))  # fmt: skip
_DECISION_COLUMNS = (("id", "#", 4), ("status", "decision", 9), ("rule", "alert", 16), ("task", "task", 14),
                     ("hosts", "hosts", 18), ("by", "by", 12), ("when", "when", 11))  # fmt: skip
_DECISION_STYLE = {"approved": "ok", "running": "ok", "done": "ok", "denied": "bad"}


def countdown(seconds: float) -> str:
    """`in 3h 12m`, `in 4m 10s`, `in 2d 5h`: how long until a next run; `due now` once it has passed."""
    total = int(seconds)
    if total <= 0:
        return "due now"
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"in {days}d {hours}h"
    if hours:
        return f"in {hours}h {minutes}m"
    if minutes:
        return f"in {minutes}m {secs}s"
    return f"in {secs}s"


def local(moment: datetime, fmt: str = "%m-%d %H:%M") -> str:
    """A time in the console's local zone (schedules may run in other zones)."""
    return moment.astimezone().strftime(fmt)


def local_epoch(epoch: float, fmt: str = "%m-%d %H:%M") -> str:
    """Epoch seconds in the console's local zone."""
    return time.strftime(fmt, time.localtime(epoch))


class AutomationScreen(Screen[None]):
    """Schedules, pending remediation approvals and recent decisions.

    Args:
        feed: Where schedules and the approval queue are read and decisions are written.
        clock: Epoch-seconds clock, for next runs, countdowns and waiting times.
    """

    CSS_PATH = "../styles/automation.tcss"
    COMPONENT_CLASSES = {"automation--ok", "automation--bad", "automation--warn", "automation--muted"}
    BINDINGS = [
        Binding("a", "approve", "Approve", id="automation.approve"),
        Binding("d", "deny", "Deny", id="automation.deny"),
        Binding("escape", "back", "Back", id="automation.back"),
    ]

    def __init__(self, feed: AutomationFeed, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self._feed = feed
        self._clock = clock
        self.snapshot = AutomationSnapshot()
        """The last read (tests and the countdown use it)."""
        self.loaded = False
        """Whether the first read has arrived (tests wait on it)."""
        self._pending: dict[str, Request] = {}
        self._decisions: dict[str, Decision] = {}
        self._schedules: dict[str, ScheduleStatus] = {}
        self._poll_timer: Timer | None = None
        self._problem: str | None = None

    def compose(self) -> ComposeResult:
        """Three sections (schedules, approvals, decisions), a detail pane, a hint line and the keys."""
        yield Header(icon="◆")
        with Vertical(id="automation-schedules-section", classes="automation-section"):
            yield DataTable(cursor_type="row", id="automation-schedules")
            yield Static("", id="automation-schedules-empty", classes="automation-empty", markup=False)
        with Vertical(id="automation-approvals-section", classes="automation-section"):
            yield DataTable(cursor_type="row", id="automation-approvals")
            yield Static("", id="automation-approvals-empty", classes="automation-empty", markup=False)
        with Vertical(id="automation-decisions-section", classes="automation-section"):
            yield DataTable(cursor_type="row", id="automation-decisions")
            yield Static("", id="automation-decisions-empty", classes="automation-empty", markup=False)
        yield Static("", id="automation-detail", markup=False)
        yield Static("", id="automation-hint", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        """Lay out the columns, read, and start the countdown clock."""
        for name, columns in (("schedules", _SCHEDULE_COLUMNS), ("approvals", _REQUEST_COLUMNS),
                              ("decisions", _DECISION_COLUMNS)):  # fmt: skip
            table = self.table(name)
            for key, label, width in columns:
                table.add_column(label, key=key, width=width)
        self.query_one("#automation-schedules-section").border_title = "schedules"
        self.query_one("#automation-approvals-section").border_title = "remediation approvals"
        self.query_one("#automation-decisions-section").border_title = "recent decisions"
        self.query_one("#automation-schedules-empty", Static).update(self._schedules_empty())
        self.query_one("#automation-approvals-empty", Static).update(self._approvals_empty())
        self.query_one("#automation-decisions-empty", Static).update(
            "No remediation decided yet. Decisions made here or with `fleetdeck remediation approve|deny ID` "
            "are listed here."
        )
        self.query_one("#automation-hint", Static).update(
            "a approve · d deny · Tab next table · Esc back · schedules and approved remediations run in "
            "`fleetdeck daemon`"
        )
        self.poll()
        self.set_interval(TICK_S, self._tick, name="automation-countdown")

    def on_resize(self, event: events.Resize) -> None:
        """Degrade on short terminals rather than squeeze every table to its header."""
        self.set_class(event.size.height < SHORT_HEIGHT, "-short")

    def table(self, name: str) -> DataTable[Text]:
        """One of the three tables: `schedules`, `approvals` or `decisions`."""
        return self.query_one(f"#automation-{name}", DataTable)

    # -- empty states -----------------------------------------------------------------------------

    def _schedules_empty(self) -> str:
        where = f" in {self._feed.config_dir}" if self._feed.config_dir is not None else ""
        return (
            f"No schedules: add them in schedules.toml{where} (see README § Schedules), then run "
            "`fleetdeck daemon` to fire them. `fleetdeck check` validates the file."
        )

    def _approvals_empty(self) -> str:
        rails = self._feed.remediation
        if not rails.allow:
            return (
                "No remediation waits for approval. Remediation is off: remediation.toml allows no task "
                "(see README § Alerts, notifications and remediation)."
            )
        if not rails.approval:
            return (
                "No remediation waits for approval. Approval is off, so allowed remediations start at once; "
                "set approval = true in remediation.toml to decide each one here first."
            )
        return (
            "No remediation waits for approval. When an alert rule with `remediate` fires, the daemon queues "
            "its run here for you to approve (a) or deny (d)."
        )

    # -- reading --------------------------------------------------------------------------------

    def poll(self) -> None:
        """Read the schedule state and the queue again (in a thread: both block on the disk)."""
        self.run_worker(self._read(), group="automation-read", exclusive=True)

    async def _read(self) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
        try:
            snapshot = await asyncio.to_thread(self._feed.read, self._clock())
        except (FleetdeckError, OSError, sqlite3.Error) as error:
            problem = f"Cannot read the automation state in {self._feed.state_dir}: {error}"
            if problem != self._problem:  # once per problem, not once per poll
                self.notify(problem, title="Automation", severity="error", markup=False)
            self._problem = problem
        else:
            self._problem = None
            self._show(snapshot)
        self._poll_timer = self.set_timer(POLL_S, self.poll, name="automation-poll")

    def _show(self, snapshot: AutomationSnapshot) -> None:
        first = not self.loaded
        self.snapshot = snapshot
        self._schedules = {status.schedule.name: status for status in snapshot.schedules}
        self._pending = {str(request.id): request for request in snapshot.pending}
        self._decisions = {str(decision.request.id): decision for decision in snapshot.decisions}
        now = self._clock()
        with self.app.batch_update():
            self._fill("schedules", {key: self._schedule_cells(s, now) for key, s in self._schedules.items()})
            self._fill("approvals", {key: self._request_cells(r, now) for key, r in self._pending.items()})
            self._fill("decisions", {key: self._decision_cells(d) for key, d in self._decisions.items()})
        enabled = sum(1 for status in snapshot.schedules if status.schedule.enabled)
        self.query_one("#automation-schedules-section").border_title = (
            f"schedules · {len(snapshot.schedules)} ({enabled} enabled)" if snapshot.schedules else "schedules"
        )
        waiting = len(snapshot.pending)
        self.query_one("#automation-approvals-section").border_title = (
            f"remediation approvals · {waiting} waiting" if waiting else "remediation approvals"
        )
        self.loaded = True
        self.refresh_bindings()
        focused = self.focused
        if first or (isinstance(focused, DataTable) and focused.row_count == 0):
            # Start where something waits for a decision; never leave focus on a table that emptied.
            for name in ("approvals", "schedules", "decisions"):
                if self.table(name).row_count:
                    self.table(name).focus()
                    break
        self._show_detail()

    def _fill(self, name: str, rows: Mapping[str, list[Text]]) -> None:
        """Update rows in place when the same keys are listed, else rebuild keeping the cursor's row."""
        table = self.table(name)
        self.query_one(f"#automation-{name}-section").set_class(not rows, "-empty")
        if [key.value for key in table.rows] == list(rows):
            for key, cells in rows.items():
                for column, cell in zip(table.columns, cells, strict=True):
                    table.update_cell(key, column, cell)
            return
        chosen = self._cursor_key(table)
        table.clear()
        for key, cells in rows.items():
            table.add_row(*cells, key=key)
        if chosen is not None and chosen in rows:
            table.move_cursor(row=table.get_row_index(chosen), animate=False)

    def _tick(self) -> None:
        """Redraw the countdowns and waiting times from the last read."""
        if not self.loaded:
            return
        now = self._clock()
        schedules, approvals = self.table("schedules"), self.table("approvals")
        for key, status in self._schedules.items():
            if key in schedules.rows:
                schedules.update_cell(key, "in", self._countdown(status, now))
        for key, request in self._pending.items():
            if key in approvals.rows:
                approvals.update_cell(key, "waiting", Text(short_duration(max(0.0, now - request.created))))

    # -- cells ----------------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"automation--{name}", partial=True)

    def _countdown(self, status: ScheduleStatus, now: float) -> Text:
        if status.next_run is None:
            return Text(MISSING, style=self._style("muted"))
        left = status.next_run.timestamp() - now
        return Text(countdown(left), style=self._style("warn") if left <= 0 else "")

    def _schedule_cells(self, status: ScheduleStatus, now: float) -> list[Text]:
        schedule = status.schedule
        ran = status.last_run_id is not None and status.last_fire is not None
        if status.last_exit is None:
            result = Text(MISSING, style=self._style("muted"))
        elif status.last_exit == 0:
            result = Text("ok", style=self._style("ok"))
        else:
            result = Text(f"exit {status.last_exit}", style=self._style("bad"))
        if status.next_run is None:
            next_run = Text("disabled", style=self._style("muted"))
        else:
            next_run = Text(local(status.next_run))
        return [
            Text(schedule.name, no_wrap=True, overflow="ellipsis"),
            Text(schedule.task, no_wrap=True, overflow="ellipsis"),
            Text(self._feed.targets(schedule) or MISSING, no_wrap=True, overflow="ellipsis"),
            Text(schedule.cron, no_wrap=True, overflow="ellipsis"),
            next_run,
            self._countdown(status, now),
            Text(local(status.last_fire)) if ran and status.last_fire is not None else Text(MISSING),
            result,
            Text(schedule.missed),
            Text("on") if schedule.enabled else Text("off", style=self._style("muted")),
        ]

    def _request_cells(self, request: Request, now: float) -> list[Text]:
        return [
            Text(str(request.id), justify="right"),
            Text(request.rule, no_wrap=True, overflow="ellipsis"),
            Text(request.task, no_wrap=True, overflow="ellipsis"),
            Text(fold(request.hosts), no_wrap=True, overflow="ellipsis"),
            Text(local_epoch(request.created)),
            Text(short_duration(max(0.0, now - request.created))),
            Text(request.reason, no_wrap=True, overflow="ellipsis"),
        ]

    def _decision_cells(self, decision: Decision) -> list[Text]:
        request = decision.request
        return [
            Text(str(request.id), justify="right"),
            Text(request.status, style=self._style(_DECISION_STYLE.get(request.status, "muted"))),
            Text(request.rule, no_wrap=True, overflow="ellipsis"),
            Text(request.task, no_wrap=True, overflow="ellipsis"),
            Text(fold(request.hosts), no_wrap=True, overflow="ellipsis"),
            Text(decision.by or MISSING, no_wrap=True, overflow="ellipsis"),
            Text(local_epoch(decision.at)),
        ]

    # -- detail ---------------------------------------------------------------------------------

    @staticmethod
    def _cursor_key(table: DataTable[Text]) -> str | None:
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    @property
    def selected_request(self) -> Request | None:
        """The pending request under the approvals table's cursor (whichever table has focus)."""
        return self._pending.get(self._cursor_key(self.table("approvals")) or "")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The detail pane follows the cursor of the table it moved in."""
        self._show_detail(event.data_table)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Moving to another table shows its selected row."""
        self._show_detail()

    def _show_detail(self, table: DataTable[Text] | None = None) -> None:
        if table is None:
            focused = self.focused
            table = focused if isinstance(focused, DataTable) else self.table("schedules")
        key = self._cursor_key(table) or ""
        detail = self.query_one("#automation-detail", Static)
        if table.id == "automation-schedules" and key in self._schedules:
            detail.update(self._schedule_detail(self._schedules[key]))
        elif table.id == "automation-approvals" and key in self._pending:
            request = self._pending[key]
            detail.update(f"{self._request_detail(request)}\na approves, d denies; an approved run starts in the "
                          "daemon within a second")  # fmt: skip
        elif table.id == "automation-decisions" and key in self._decisions:
            decision = self._decisions[key]
            when = local_epoch(decision.at, "%Y-%m-%d %H:%M:%S")
            detail.update(f"{self._request_detail(decision.request)}\n{decision.request.status}"
                          f" · decided by {decision.by or 'unknown'} at {when}")  # fmt: skip
        else:
            detail.update("")

    def _schedule_detail(self, status: ScheduleStatus) -> str:
        s = status.schedule
        about = f" · {s.description}" if s.description else ""
        if status.next_run is None:
            upcoming = "disabled (enabled = false in schedules.toml)"
        else:
            upcoming = (f"next {local(status.next_run, '%Y-%m-%d %H:%M %Z')}"
                        f" ({status.next_run.strftime('%H:%M')} {s.timezone})")  # fmt: skip
        params = ", ".join(f"{k}={v}" for k, v in s.params.items()) or "none"
        last = "never ran"
        if status.last_run_id is not None:
            exit_text = MISSING if status.last_exit is None else str(status.last_exit)
            last = f"last run {status.last_run_id} (exit {exit_text})"
        return (
            f"{s.name}{about}\n"
            f"cron {s.cron} ({s.timezone}) · {upcoming} · missed runs: {s.missed}"
            f" (catch up within {short_duration(s.catch_up_within.total_seconds())})\n"
            f"task {s.task} on {self._feed.targets(s) or MISSING} · params {params} · {last}"
        )

    @staticmethod
    def _request_detail(request: Request) -> str:
        params = ", ".join(f"{k}={v}" for k, v in request.params.items()) or "none"
        requested = local_epoch(request.created, "%Y-%m-%d %H:%M:%S")
        return (
            f"#{request.id} alert {request.rule} → task {request.task} on {fold(request.hosts)}"
            f" · params {params} · requested {requested}\nreason {request.reason}"
        )

    # -- actions --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Approve and deny show dimmed while nothing waits."""
        if action in ("approve", "deny") and not self._pending:
            return None
        return True

    def action_approve(self) -> None:
        """Approve the selected request, after a confirmation."""
        self._decide(approve=True)

    def action_deny(self) -> None:
        """Deny the selected request, after a confirmation."""
        self._decide(approve=False)

    def _decide(self, *, approve: bool) -> None:
        request = self.selected_request
        if request is None:
            self.notify("No remediation waits for approval.", severity="warning")
            return
        hosts = fold(request.hosts)
        if approve:
            title = f"Approve remediation #{request.id}?"
            detail = (f"Runs task {request.task} on {hosts} (alert {request.rule}). The daemon starts it within "
                      f"a second.\n{request.reason}")  # fmt: skip
        else:
            title = f"Deny remediation #{request.id}?"
            detail = (f"Task {request.task} will not run on {hosts}. The request stays in the queue as denied; "
                      f"the alert is left as it is.\n{request.reason}")  # fmt: skip

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._send(request, approve), group="automation-decide")

        self.app.push_screen(ConfirmModal(title, detail, yes="Approve" if approve else "Deny"), answered)

    async def _send(self, request: Request, approve: bool) -> None:
        try:
            decided = await asyncio.to_thread(self._feed.decide, request.id, approve=approve)
        except (FleetdeckError, OSError, sqlite3.Error) as error:
            self.notify(f"Remediation #{request.id} not {'approved' if approve else 'denied'}: {error}",
                        severity="warning", markup=False)  # fmt: skip
        else:
            verb = "approved: the daemon starts it within a second" if decided.status == "approved" else "denied"
            self.notify(f"Remediation #{decided.id} ({decided.task} on {fold(decided.hosts)}) {verb}.", markup=False)
        self.poll()

    def action_back(self) -> None:
        """Back to where the screen was opened from."""
        self.dismiss()
