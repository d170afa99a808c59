"""The run view: every host's live status beside the selected host's output, or the gathered groups.

The screen never listens to engine events itself. Runs execute in app-level async workers (so leaving the
screen does not stop them) with a :class:`~fleetdeck.ui.run_bridge.RunBridge` as their sink; a 10 Hz timer
drains the bridge and redraws only what changed and is visible: dirty rows of the host table, the summary
line, and new lines of the one tail on screen (or the gathered view, rebuilt when a host finishes). Below
100 columns the split becomes two tabs. The same screen shows a stored run replayed by the history view.
Copy (clipboard) and save (a host's full output from the run's files) come from
:class:`~fleetdeck.ui.screens.run_output.RunOutputActions`. Start runs with :func:`open_run`, which also
switches an open run screen to the new run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Header, Static, Tab, Tabs
from textual.worker import Worker

from fleetdeck.core.errors import FleetdeckError
from fleetdeck.core.runner.runner import RunSummary
from fleetdeck.core.runner.service import Engine, Prepared
from fleetdeck.ui.run_bridge import RunBridge, RunView
from fleetdeck.ui.screens.run_output import RunOutputActions
from fleetdeck.ui.widgets.confirm import ConfirmModal
from fleetdeck.ui.widgets.gathered_view import GatheredView
from fleetdeck.ui.widgets.host_tail import HostTail
from fleetdeck.ui.widgets.key_footer import KeyFooter
from fleetdeck.ui.widgets.run_hosts import RunHostTable
from fleetdeck.ui.widgets.run_summary import RunSummaryBar

TICK_S = 0.1
"""How often the screen drains the bridge: fast enough to feel live, slow enough to batch a flood."""
NARROW_BELOW = 100
"""Terminal width under which the split becomes tabs."""
TABLE_EVERY_TICKS = 3
"""Host-table redraw interval in ticks: any cell update re-renders every visible row of a `DataTable`, so
output-only changes (bytes, last line) are batched; a host finishing is drawn on the next tick."""
_TICKS_PER_SECOND = round(1 / TICK_S)


def start_run(app: App[Any], engine: Engine, bridge: RunBridge, prepared: Prepared) -> Worker[RunSummary | None]:
    """Run `prepared` in an app-level async worker with `bridge` as its sink.

    The worker belongs to the app, not to a screen, so closing the run view leaves the run going.

    Args:
        app: The running app.
        engine: The engine that prepared the run.
        bridge: The sink the console reads; the run is registered on it at once so its hosts show as queued.
        prepared: A run prepared with a fresh id from ``engine.new_run_id()``.
    """
    bridge.expect(prepared)

    async def run() -> RunSummary | None:
        try:
            return await engine.run(prepared, [bridge])
        except Exception as exc:  # the run is over either way; say so instead of dying silently
            bridge.abort(prepared.request.run_id, f"the run stopped: {type(exc).__name__}: {exc}")
            app.notify(
                f"run {prepared.request.run_id} stopped: {exc}", title="Run failed", severity="error", markup=False
            )
            return None

    return app.run_worker(run(), name=f"run {prepared.request.run_id}", group="runs", exit_on_error=False)


def open_run(
    app: App[Any],
    engine: Engine,
    bridge: RunBridge,
    prepared: Prepared,
    *,
    clock: Callable[[], float] = time.time,
) -> Worker[RunSummary | None]:
    """Start `prepared` and show it: in the run screen on top if there is one for `bridge`, else in a new one."""
    worker = start_run(app, engine, bridge, prepared)
    run_id = prepared.request.run_id
    screen = app.screen
    if isinstance(screen, RunScreen) and screen.bridge is bridge:
        screen.show_run(run_id)
    else:
        app.push_screen(RunScreen(engine, bridge, run_id=run_id, clock=clock))
    return worker


def _param_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class RunScreen(RunOutputActions):
    """Runs in progress or recorded: host list, output tail, gathered view and summary line.

    Args:
        engine: Used to cancel runs and to prepare reruns of failed hosts.
        bridge: Where the runs' state is; the screen shows any run the bridge follows.
        run_id: The run to show first; the newest one when `None`.
        launch_bridge: The bridge new runs (reruns) go to when `bridge` only holds stored runs.
        clock: Epoch-seconds clock for durations; injected so snapshots are stable.
    """

    CSS_PATH = "../styles/run.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW_BELOW, "-wide")]
    AUTO_FOCUS = "#run-hosts"

    BINDINGS = [
        Binding("escape", "back", "Back", id="run.back"),
        Binding("v", "toggle_gathered", "Gathered", id="run.gathered"),
        Binding("slash", "search", "Search", id="run.search"),
        Binding("n", "jump(True)", "Next match", show=False, id="run.next-match"),
        Binding("N", "jump(False)", "Previous match", show=False, id="run.previous-match"),
        Binding("w", "toggle_wrap", "Wrap", id="run.wrap"),
        Binding("G", "follow", "Follow", id="run.follow"),
        Binding("c", "copy_output", "Copy", id="run.copy"),
        Binding("C", "copy_line", "Copy line", show=False, id="run.copy-line"),
        Binding("ctrl+s", "save_output", "Save", id="run.save"),
        Binding("o", "toggle_pane", "Hosts/output", id="run.toggle-pane"),
        Binding("ctrl+k", "cancel_run", "Cancel run", id="run.cancel"),
        Binding("R", "rerun_failed", "Rerun failed", id="run.rerun-failed"),
        Binding("left_square_bracket", "switch_run(-1)", "Prev run", id="run.previous-run"),
        Binding("right_square_bracket", "switch_run(1)", "Next run", id="run.next-run"),
    ]

    def __init__(
        self,
        engine: Engine,
        bridge: RunBridge,
        *,
        run_id: str | None = None,
        launch_bridge: RunBridge | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.bridge = bridge
        self._launch_bridge = launch_bridge
        self._clock = clock
        self._run_id = run_id
        self._host: str | None = None
        self._gathered = False
        self._ticks = 0
        self._runs_seen = -1
        self._table_dirty: set[str] = set()
        self._stale = False

    # -- layout ----------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Title, summary, the (narrow-only) tabs, the split, and the key bar."""
        yield Header(icon="◆")
        yield Static("", id="run-title", markup=False)
        yield RunSummaryBar("", id="run-summary")
        yield Tabs(Tab("Hosts", id="tab-hosts"), Tab("Output", id="tab-output"), id="run-tabs")
        with Horizontal(id="run-split"):
            with Vertical(id="run-hosts-pane", classes="pane"):
                yield RunHostTable(clock=self._clock, id="run-hosts")
            with Vertical(id="run-output-pane", classes="pane"):
                yield HostTail(max_lines=self.bridge.max_lines, id="run-tail")
                yield GatheredView(id="run-gathered")
        yield KeyFooter()

    def on_mount(self) -> None:
        """Show the first run and start the drain clock."""
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._redraw())
        if self._run_id is None and self.bridge.runs:
            self._run_id = next(reversed(self.bridge.runs))
        self._redraw()
        self.set_interval(TICK_S, self._tick, name="run-drain")

    def on_screen_resume(self) -> None:
        """Back on top after another screen: catch up in one redraw."""
        if self._stale:
            self._stale = False
            self._redraw()

    @property
    def view(self) -> RunView | None:
        """The run shown, if the bridge has it."""
        return None if self._run_id is None else self.bridge.runs.get(self._run_id)

    @property
    def run_id(self) -> str | None:
        """Id of the run shown."""
        return self._run_id

    @property
    def selected_host(self) -> str | None:
        """The host whose tail is shown."""
        return self._host

    @property
    def tail(self) -> HostTail:
        """The selected host's tail."""
        return self.query_one("#run-tail", HostTail)

    @property
    def gathered(self) -> GatheredView:
        """The gathered view."""
        return self.query_one("#run-gathered", GatheredView)

    @property
    def showing_gathered(self) -> bool:
        """Whether the gathered groups are shown instead of a host's tail."""
        return self._gathered

    @property
    def active_tail(self) -> HostTail:
        """Whichever output view is on screen."""
        return self.gathered if self._gathered else self.tail

    @property
    def narrow(self) -> bool:
        """Whether the split is shown as tabs."""
        return self.has_class("-narrow")

    @property
    def output_visible(self) -> bool:
        """Whether the output pane is on screen (always, unless narrow with the hosts tab chosen)."""
        return not self.narrow or self.has_class("-output")

    def show_run(self, run_id: str) -> None:
        """Switch to another run the bridge follows."""
        if run_id not in self.bridge.runs:
            return
        self._run_id = run_id
        self._host = None
        self._redraw()

    # -- the clock -------------------------------------------------------------------------------------------

    def _tick(self) -> None:
        """Drain the bridge and redraw what changed and is visible."""
        if not self.is_current:
            # Another screen covers this one: leave the bridge's dirty sets to whoever shows the run now,
            # and redraw from scratch when this screen is back.
            self._stale = True
            return
        if self.engine.intake.held:
            # A key is on its way to the screen: its frame should not also carry a repaint of new output.
            # Output is not lost, only drawn on the next tick.
            return
        self._ticks += 1
        view = self.view
        if view is None:
            if self.bridge.runs:
                self.show_run(next(reversed(self.bridge.runs)))
            return
        drained = self.bridge.drain(view.run_id)
        self._table_dirty.update(drained.hosts)
        with self.app.batch_update():
            table = self.query_one(RunHostTable)
            if self._table_dirty and (drained.run_changed or self._ticks % TABLE_EVERY_TICKS == 0):
                table.update_hosts(self._table_dirty)
                self._table_dirty.clear()
            if self._ticks % _TICKS_PER_SECOND == 0:
                table.tick_durations()
            if drained.hosts or drained.run_changed:
                self.query_one(RunSummaryBar).show(view)
            if drained.run_changed or len(self.bridge.runs) != self._runs_seen:
                self._show_title(view)
                self.refresh_bindings()
            if self._host is None and table.cursor_host is not None:
                self._select_host(table.cursor_host)
            elif self._host in drained.hosts:
                self._show_host_title(view)
            self._refresh_output(view, drained.new_lines)

    def _refresh_output(self, view: RunView, new_lines: Mapping[str, int]) -> None:
        if not self.output_visible:
            return
        if self._gathered:
            finished = sum(1 for host in view.hosts.values() if host.finished)
            self.gathered.show_groups(view.run_id, view.gatherer, finished)
            return
        host = view.hosts.get(self._host or "")
        if host is None:
            return
        tail = self.tail
        if tail.source != (view.run_id, host.name):
            self._load_tail(view)
            return
        if host.name in new_lines or host.total_lines != tail.seen or host.pending():
            texts, kinds, skipped = host.texts_after(tail.seen)
            tail.seen = host.total_lines
            tail.log_view.extend(texts, kinds, skipped=skipped, pending=host.pending())

    # -- drawing ---------------------------------------------------------------------------------------------

    def _redraw(self) -> None:
        """Draw the current run from scratch (first show, run switch, theme change)."""
        view = self.view
        table = self.query_one(RunHostTable)
        if view is None:
            self.query_one("#run-title", Static).update("no runs yet: start one from the Tasks screen")
            return
        self.bridge.drain(view.run_id)  # everything is drawn below; start the dirty sets afresh
        self._table_dirty.clear()
        with self.app.batch_update():
            table.show_run(view, select=self._host)
            self.query_one(RunSummaryBar).restyle(view)
            self._show_title(view)
            self._host = self._host or table.cursor_host
            self._show_host_title(view)
            self.tail.source = None
            self._refresh_output(view, {})
        self.refresh_bindings()

    def _show_title(self, view: RunView) -> None:
        self._runs_seen = len(self.bridge.runs)
        what = view.task if view.command is None else f"exec {view.command!r}"
        parts = [f"run {view.run_id}", what, f"-t {view.selector}"]
        if view.stored:
            parts.append("from history")
        runs = list(self.bridge.runs)
        if len(runs) > 1:
            parts.append(f"run {runs.index(view.run_id) + 1} of {len(runs)}  [ ] to switch")
        self.query_one("#run-title", Static).update(" · ".join(parts), layout=False)

    def _show_host_title(self, view: RunView) -> None:
        host = view.hosts.get(self._host or "")
        if host is None:
            return
        rc = "" if host.exit_status is None else f" rc={host.exit_status}"
        title = f"{host.name} · {host.status}{rc}"
        if str(self.tail.border_title) != title:
            self.tail.border_title = title

    def _select_host(self, name: str) -> None:
        if name == self._host and self.tail.source is not None:
            return
        self._host = name
        view = self.view
        if view is not None:
            self._show_host_title(view)
            self._load_tail(view)

    def _load_tail(self, view: RunView) -> None:
        host = view.hosts.get(self._host or "")
        tail = self.tail
        if host is None or not self.output_visible:
            return
        tail.source = (view.run_id, host.name)
        tail.seen = host.total_lines
        log = tail.log_view
        log.load(host.lines, host.pending())
        log.resume()
        if tail.search_input.value:
            log.search(tail.search_input.value)

    def on_run_host_table_highlighted(self, event: RunHostTable.Highlighted) -> None:
        """The tail follows the host cursor."""
        self._select_host(event.host)

    def on_run_host_table_chosen(self, event: RunHostTable.Chosen) -> None:
        """Enter on a host: show its output (the output tab when narrow) and give it the keys."""
        self._select_host(event.host)
        if self._gathered:
            self.action_toggle_gathered()
        self._show_pane("output")
        self.tail.log_view.focus()

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        """Narrow layout: the tabs choose the pane."""
        self._show_pane("output" if event.tab.id == "tab-output" else "hosts")

    def _show_pane(self, pane: str) -> None:
        output = pane == "output"
        if self.has_class("-output") == output:
            return
        self.set_class(output, "-output")
        self.query_one(Tabs).active = "tab-output" if output else "tab-hosts"
        view = self.view
        if output and view is not None:
            self.tail.source = None  # hidden tails are not written; catch up from the ring now
            self._refresh_output(view, {})

    # -- actions ---------------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide what cannot apply here; dim what cannot apply now."""
        view = self.view
        if action == "toggle_pane":
            return self.narrow
        if action == "cancel_run":
            if view is None or view.stored:
                return False
            return None if view.done else True
        if action == "rerun_failed":
            if view is None or (view.stored and self._launch_bridge is None):
                return False
            return True if view.done and view.failed_hosts() else None
        if action == "switch_run":
            return len(self.bridge.runs) > 1
        if action in ("copy_output", "copy_line", "save_output"):
            return view is not None
        return True

    def action_back(self) -> None:
        """Esc steps back one level: search, gathered view, output tab, then the screen."""
        tail = self.active_tail
        if tail.searching or tail.log_view.searching:
            tail.close_search(clear=True)
            tail.border_subtitle = ""
        elif self._gathered:
            self.action_toggle_gathered()
        elif self.narrow and self.has_class("-output"):
            self._show_pane("hosts")
            self.query_one(RunHostTable).focus()
        elif len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def action_toggle_gathered(self) -> None:
        """Switch between the selected host's tail and the gathered groups."""
        self._gathered = not self._gathered
        self.set_class(self._gathered, "-gathered")
        self.gathered.border_title = "gathered output: identical output and outcome grouped"
        view = self.view
        if view is not None:
            self.tail.source = None
            self._refresh_output(view, {})

    def action_search(self) -> None:
        """Open the search bar of the output on screen."""
        self._show_pane("output")
        self.active_tail.open_search()

    def action_jump(self, forward: bool) -> None:
        """Next or previous search match."""
        if not self.active_tail.log_view.jump(forward):
            self.notify("No match." if self.active_tail.log_view.searching else "Search first with /.")

    def action_toggle_wrap(self) -> None:
        """Wrap long lines, or scroll sideways."""
        log = self.active_tail.log_view
        log.wrap = not log.wrap

    def action_follow(self) -> None:
        """Stick to the end of the output again."""
        self.active_tail.log_view.resume()

    def action_toggle_pane(self) -> None:
        """Narrow layout: flip between the host list and the output."""
        self._show_pane("hosts" if self.has_class("-output") else "output")

    def action_switch_run(self, step: int) -> None:
        """Show the previous or next run the bridge follows."""
        runs = list(self.bridge.runs)
        if not runs:
            return
        index = runs.index(self._run_id) if self._run_id in runs else len(runs) - 1
        self.show_run(runs[(index + step) % len(runs)])

    def action_cancel_run(self) -> None:
        """Ask, then cancel the run shown: hosts in flight are killed, queued ones never start."""
        view = self.view
        if view is None or view.done or view.stored:
            return
        counts = view.counts()
        detail = (
            f"{counts.running} host(s) in flight will be killed and {counts.queued} queued host(s) will not start. "
            "Output so far stays in the run's record."
        )

        def answer(yes: bool | None) -> None:
            if yes:
                self.engine.cancel(view.run_id)
                self.notify(f"Cancelling run {view.run_id}…")

        self.app.push_screen(ConfirmModal(f"Cancel run {view.run_id}?", detail, yes="Cancel run"), answer)

    def action_rerun_failed(self) -> None:
        """Run the hosts that did not end ok again (``-t @RUN.failed``) as a new run, shown here."""
        view = self.view
        if view is None or not view.done:
            self.notify("The run is still going; rerun its failed hosts once it ends.", severity="warning")
            return
        failed = view.failed_hosts()
        if not failed:
            self.notify("No failed hosts to rerun.")
            return
        bridge = self._launch_bridge or self.bridge
        try:
            prepared = self._prepare_rerun(view)
        except FleetdeckError as exc:
            self.notify(str(exc), title="Cannot rerun", severity="error", markup=False)
            return
        start_run(self.app, self.engine, bridge, prepared)
        if bridge is self.bridge:
            self.show_run(prepared.request.run_id)
        else:
            self.app.push_screen(RunScreen(self.engine, bridge, run_id=prepared.request.run_id, clock=self._clock))

    def _prepare_rerun(self, view: RunView) -> Prepared:
        """The same task or command, with the same values, on ``@RUN.failed``.

        Raises:
            FleetdeckError: The task is gone, a stored run's secrets are not known, or nothing matches.
        """
        selector = f"@{view.run_id}.failed"
        run_id = self.engine.new_run_id()
        prepared = view.prepared
        if prepared is not None and prepared.task is not None and prepared.params is not None:
            given = {name: _param_text(value) for name, value in prepared.params.values.items()}
            return self.engine.prepare_task(prepared.task.name, selector, given, run_id=run_id)
        if view.command is not None:
            step = prepared.plans[0].steps[0].step if prepared is not None and prepared.plans else None
            return self.engine.prepare_command(
                view.command,
                selector,
                timeout=None if step is None else step.timeout,
                no_output_timeout=None if step is None else step.no_output_timeout,
                run_id=run_id,
            )
        task = self.engine.config.tasks.get(view.task)
        if task is not None and any(param.type == "secret" for param in task.params.values()):
            raise FleetdeckError(
                f"run {view.run_id} used secret parameters, which are never stored; start {view.task} "
                f"from the Tasks screen with -t {selector}"
            )
        given = {name: _param_text(value) for name, value in view.params.items()}
        return self.engine.prepare_task(view.task, selector, given, run_id=run_id)
