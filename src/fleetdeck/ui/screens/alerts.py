"""Alerts: the pending and firing alerts the console's rules see, with acknowledge and silence at hand.

The list comes from the context's `AlertsFeed` (rules evaluated over the samples the console collects,
acks and silences read from the store) and is redrawn every second. `Enter` or `k` acknowledges the
selected alert in the store; `s` silences its rule on its host for a duration typed in a small dialog,
with a reason, so whoever is on call next knows why; `Esc` goes back.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Header, Input, Label, Static

from fleetdeck.core.alerts import AlertRecord, format_duration, parse_duration
from fleetdeck.core.errors import FleetdeckError
from fleetdeck.ui.alerts_feed import AlertsFeed
from fleetdeck.ui.widgets.key_footer import KeyFooter
from fleetdeck.ui.widgets.run_hosts import short_duration

REFRESH_S = 1.0
"""Seconds between redraws of the list."""
DEFAULT_SILENCE = "1h"
"""The duration the silence dialog starts with."""

_COLUMNS = (("state", "state", 8), ("severity", "severity", 9), ("host", "host", 16), ("since", "since", 8),
            ("value", "value", 9), ("summary", "summary", None))  # fmt: skip


def _value(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.1f}"


class SilenceRequest:
    """What the silence dialog returns: the duration in seconds and the reason."""

    __slots__ = ("duration_s", "reason")

    def __init__(self, duration_s: float, reason: str) -> None:
        self.duration_s = duration_s
        self.reason = reason


class SilenceModal(ModalScreen[SilenceRequest | None]):
    """Ask for a silence's duration (default 1h) and reason; dismisses with `None` on `Esc`.

    Args:
        matchers: What will be silenced, shown to the operator (e.g. `rule=HighCPU host=web-1`).
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="alerts.silence-cancel")]

    def __init__(self, matchers: str) -> None:
        super().__init__()
        self._matchers = matchers

    def compose(self) -> ComposeResult:
        """What is silenced, the duration and reason boxes, and the buttons."""
        with Vertical(id="silence-box"):
            yield Label(f"Silence {self._matchers}", classes="silence-title", markup=False)
            yield Label("For how long (e.g. 30m, 1h, 1d):", classes="silence-hint")
            yield Input(DEFAULT_SILENCE, id="silence-duration")
            yield Label("Reason (required):", classes="silence-hint")
            yield Input(placeholder="why, for whoever is on call next", id="silence-reason")
            yield Static("", id="silence-error", markup=False)
            with Horizontal(classes="silence-buttons"):
                yield Button("Cancel", id="silence-cancel")
                yield Button("Silence", id="silence-ok", variant="warning")

    def on_mount(self) -> None:
        """Start in the reason box: the duration already has its default."""
        self.query_one("#silence-reason", Input).focus()

    def _submit(self) -> None:
        error = self.query_one("#silence-error", Static)
        try:
            duration = parse_duration(self.query_one("#silence-duration", Input).value)
        except ValueError as problem:
            error.update(f"Duration: {problem}")
            return
        if duration <= 0:
            error.update("Duration: must be longer than 0s")
            return
        reason = self.query_one("#silence-reason", Input).value.strip()
        if not reason:
            error.update("A reason is required.")
            self.query_one("#silence-reason", Input).focus()
            return
        self.dismiss(SilenceRequest(duration, reason))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in either box submits."""
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Silence, or cancel."""
        event.stop()
        if event.button.id == "silence-ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        """Esc: silence nothing."""
        self.dismiss(None)


class AlertsScreen(Screen[None]):
    """Pending and firing alerts, refreshed every second.

    Args:
        feed: The console's alerts.
        clock: Epoch-seconds clock, for the "since" column.
    """

    CSS_PATH = "../styles/alerts.tcss"
    COMPONENT_CLASSES = {"alerts-firing", "alerts-pending", "alerts-muted", "alerts-crit", "alerts-warn"}
    AUTO_FOCUS = "#alerts-table"
    BINDINGS = [
        Binding("enter", "acknowledge", "Ack", id="alerts.ack", priority=True),
        Binding("k", "acknowledge", "Ack", id="alerts.ack-k", show=False),
        Binding("s", "silence", "Silence", id="alerts.silence"),
        Binding("escape", "back", "Back", id="alerts.back"),
    ]

    def __init__(self, feed: AlertsFeed, *, clock: Callable[[], float]) -> None:
        super().__init__()
        self._feed = feed
        self._clock = clock
        self._records: dict[str, AlertRecord] = {}

    def compose(self) -> ComposeResult:
        """Header, the alert list, a hint line, the key bindings."""
        yield Header(show_clock=False, icon="◆")
        table: DataTable[Text] = DataTable(cursor_type="row", id="alerts-table")
        yield table
        yield Static("", id="alerts-hint", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        """Lay out the columns, draw, and redraw on a clock."""
        table = self.table
        for key, label, width in _COLUMNS:
            table.add_column(label, key=key, width=width)
        self.refresh_alerts()
        self.set_interval(REFRESH_S, self.refresh_alerts, name="alerts-refresh")

    @property
    def table(self) -> DataTable[Text]:
        """The alert list."""
        return self.query_one("#alerts-table", DataTable)

    @property
    def selected(self) -> AlertRecord | None:
        """The alert under the cursor."""
        table = self.table
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return self._records.get(row_key.value or "")

    def refresh_alerts(self) -> None:
        """Redraw the list from the feed, keeping the cursor on its alert."""
        records = self._feed.records()
        now = self._clock()
        table = self.table
        chosen = self.selected
        self._records = {record.key: record for record in records}
        with self.app.batch_update():
            table.clear()
            for record in records:
                table.add_row(*self._cells(record, now), key=record.key)
            if chosen is not None and chosen.key in self._records:
                table.move_cursor(row=table.get_row_index(chosen.key), animate=False)
        firing = sum(1 for record in records if record.state == "firing")
        table.border_title = f"alerts {len(records)} · {firing} firing"
        hint = "No alerts." if not records else "Enter/k acknowledge · s silence rule on host · Esc back"
        self.query_one("#alerts-hint", Static).update(hint)

    def _cells(self, record: AlertRecord, now: float) -> list[Text]:
        state: str = record.state
        state_style = "alerts-firing" if state == "firing" else "alerts-pending"
        if record.silenced:
            state, state_style = f"{state}·s", "alerts-muted"
        elif record.inhibited_by:
            state, state_style = f"{state}·inh", "alerts-muted"
        elif record.acknowledged_by:
            state, state_style = f"{state}·ack", "alerts-muted"
        severity_style = "alerts-crit" if record.severity == "critical" else "alerts-warn"
        host = record.host if record.mount is None else f"{record.host}:{record.mount}"
        return [
            Text(state, style=self._style(state_style)),
            Text(record.severity, style=self._style(severity_style)),
            Text(host),
            Text(short_duration(max(0.0, now - record.since))),
            Text(_value(record.value), justify="right"),
            Text(record.summary),
        ]

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)

    # -- actions --------------------------------------------------------------------------------

    def action_acknowledge(self) -> None:
        """Acknowledge the selected alert in the store."""
        record = self.selected
        if record is None:
            return
        if record.state != "firing":
            self.notify(f"{record.key} is pending; only firing alerts can be acknowledged.", severity="warning")
            return
        try:
            self._feed.acknowledge(record.key)
        except (FleetdeckError, KeyError) as error:
            self.notify(f"Not acknowledged: {error}", severity="warning", markup=False)
            return
        self.notify(f"Acknowledged {record.key}.", markup=False)
        self.refresh_alerts()

    def action_silence(self) -> None:
        """Silence the selected alert's rule on its host, for a duration and reason asked in a dialog."""
        record = self.selected
        if record is None:
            return
        matchers = f"rule={record.rule} host={record.host}"

        def chosen(request: SilenceRequest | None) -> None:
            if request is None:
                return
            try:
                self._feed.silence(matchers, request.duration_s, request.reason)
            except FleetdeckError as error:
                self.notify(f"Not silenced: {error}", severity="warning", markup=False)
                return
            self.notify(f"Silenced {matchers} for {format_duration(request.duration_s)}.", markup=False)
            self.refresh_alerts()

        self.app.push_screen(SilenceModal(matchers), chosen)

    def action_back(self) -> None:
        """Back to where the alerts were opened from."""
        self.dismiss()
