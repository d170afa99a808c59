"""The console's run sink: engine events in, per-host state and bounded output tails out, never a widget touched.

:class:`RunBridge` implements the runner's ``Sink`` protocol and follows any number of runs at once. For every
run it keeps a :class:`~fleetdeck.ui.run_view.RunView`, and for every host a
:class:`~fleetdeck.ui.host_run.HostRun` (status, step, exit status, duration, byte counts, last line and a ring
of the most recent output lines), and counts what changed since a screen last drained it. Screens call
:meth:`RunBridge.drain` on their own clock (about 10 Hz) and redraw only what is dirty and visible, so a host
printing as fast as it can costs nothing at all in the widget tree until the next tick. Rings are sized from
the run's host count within a line budget, so memory stays bounded whatever the hosts print; every byte is on
disk anyway (the engine's store sink writes it). Each run also feeds a
:class:`~fleetdeck.core.runner.gather.Gatherer` for the gathered view. The history view replays stored runs
into a bridge of its own, so a past run shows in the same view. No Textual here: the bridge is plain state and
is unit-tested without an app. The view models are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fleetdeck.core.runner.batches import batch_sizes
from fleetdeck.core.runner.events import (
    BatchFinished,
    HostConnecting,
    HostFinished,
    HostQueued,
    HostRunning,
    Output,
    RunEvent,
    RunFinished,
    RunStarted,
)
from fleetdeck.core.runner.gather import Gatherer, host_error
from fleetdeck.ui.host_run import MAX_LINE_CHARS, HostRun, LineKind, TailLine, clean_line
from fleetdeck.ui.run_view import RunCounts, RunView

if TYPE_CHECKING:
    from fleetdeck.core.runner.service import Prepared

__all__ = [
    "DEFAULT_GATHER_HEAD_BYTES",
    "DEFAULT_LINE_BUDGET",
    "DEFAULT_MAX_LINES",
    "DEFAULT_MAX_RUNS",
    "DEFAULT_MIN_LINES",
    "MAX_LINE_CHARS",
    "Drained",
    "HostRun",
    "LineKind",
    "RunBridge",
    "RunCounts",
    "RunView",
    "TailLine",
    "clean_line",
]

DEFAULT_MAX_LINES = 5000
"""Most output lines kept in memory per host."""
DEFAULT_MIN_LINES = 500
"""Fewest lines kept per host, however many hosts share the budget."""
DEFAULT_LINE_BUDGET = 500_000
"""Lines kept across all hosts of one run; a big run gets shorter rings per host."""
DEFAULT_MAX_RUNS = 20
"""Runs a bridge keeps; the oldest finished ones are forgotten past this (the store still has them)."""
DEFAULT_GATHER_HEAD_BYTES = 32 * 1024
"""Output per host the gathered view keeps (the CLI keeps more; a console watching 500 hosts cannot)."""


@dataclass(frozen=True, slots=True)
class Drained:
    """What changed in a run since the previous drain.

    Attributes:
        hosts: Hosts whose row changed (status, step, bytes, last line, ...).
        new_lines: Lines produced per host, for hosts that printed.
        run_changed: The run itself changed (started, a batch finished, it ended).
    """

    hosts: frozenset[str]
    new_lines: Mapping[str, int]
    run_changed: bool


class RunBridge:
    """Follows runs' events into per-run, per-host state for the console (a runner ``Sink``).

    One bridge can follow every run of a console session: events carry their run id. Handling an event
    never blocks and never touches a widget; screens drain the state on their own clock.

    Args:
        max_lines: Most lines kept per host.
        min_lines: Fewest lines kept per host when a big run divides ``line_budget``.
        line_budget: Lines kept per run across all its hosts.
        gather_head_bytes: Output per host kept for the gathered view.
        max_runs: Runs kept; past this the oldest finished run is forgotten.
    """

    def __init__(
        self,
        *,
        max_lines: int = DEFAULT_MAX_LINES,
        min_lines: int = DEFAULT_MIN_LINES,
        line_budget: int = DEFAULT_LINE_BUDGET,
        gather_head_bytes: int = DEFAULT_GATHER_HEAD_BYTES,
        max_runs: int = DEFAULT_MAX_RUNS,
    ) -> None:
        if not 0 < min_lines <= max_lines:
            raise ValueError(f"need 0 < min_lines <= max_lines, got {min_lines} and {max_lines}")
        self.max_lines = max_lines
        self.min_lines = min_lines
        self.line_budget = line_budget
        self.gather_head_bytes = gather_head_bytes
        self.max_runs = max_runs
        self.runs: dict[str, RunView] = {}
        """Every run followed, oldest first."""
        self.listeners: list[Callable[[str], None]] = []
        """Called with a run id when the bridge first hears of a run (e.g. to show a run switcher)."""

    def lines_per_host(self, hosts: int) -> int:
        """Ring size for a run of ``hosts`` hosts: the budget shared out, within the min and max."""
        share = self.line_budget // max(1, hosts)
        return max(self.min_lines, min(self.max_lines, share))

    def expect(self, prepared: Prepared) -> RunView:
        """Register a run before it starts, so its hosts show as queued and its batches are known.

        Args:
            prepared: The planned run; kept so the console can rerun its failed hosts with the same values.
        """
        request = prepared.request
        names = [plan.host.name for plan in request.plans]
        view = self._view(request.run_id, len(names))
        view.task = request.task
        view.selector = request.selector
        view.command = request.command
        view.params = dict(request.params)
        view.prepared = prepared
        view.batches_total = max(1, len(batch_sizes(request.batches, len(names))))
        for name in names:
            view.host(name)
        view.dirty.update(names)
        return view

    def run(self, run_id: str) -> RunView:
        """A followed run.

        Raises:
            KeyError: The bridge never heard of the run.
        """
        return self.runs[run_id]

    def forget(self, run_id: str) -> None:
        """Drop a run's state (its output stays in the store)."""
        self.runs.pop(run_id, None)

    def drain(self, run_id: str) -> Drained:
        """Take what changed in a run since the last drain and reset the counters.

        Args:
            run_id: The run the caller shows.

        Returns:
            The changed hosts and their new line counts; empty for an unknown run.
        """
        view = self.runs.get(run_id)
        if view is None:
            return Drained(frozenset(), {}, False)
        dirty = frozenset(view.dirty)
        view.dirty.clear()
        new_lines: dict[str, int] = {}
        for name in dirty:
            host = view.hosts[name]
            if host.new_lines:
                new_lines[name] = host.new_lines
                host.new_lines = 0
        changed, view.changed = view.changed, False
        return Drained(dirty, new_lines, changed)

    def handle(self, event: RunEvent) -> None:
        """Take one event; cheap enough to call for every output chunk of every host."""
        view = self.runs.get(event.run_id)
        if view is None:
            hosts = len(event.hosts) if isinstance(event, RunStarted) else 0
            view = self._view(event.run_id, hosts)
        view.gatherer.handle(event)
        if isinstance(event, Output):
            host = view.host(event.host)
            if event.data:
                host.add_output(event.stream, event.data)
                if event.step and not host.step:
                    host.step = event.step
                view.dirty.add(event.host)
            return
        if isinstance(event, HostRunning):
            host = view.host(event.host)
            host.status = "running"
            host.step = event.step
            host.attempt = event.attempt
            if host.started is None:
                host.started = event.time
            view.dirty.add(event.host)
        elif isinstance(event, HostConnecting):
            host = view.host(event.host)
            host.status = "connecting"
            host.started = event.time
            view.dirty.add(event.host)
        elif isinstance(event, HostQueued):
            view.host(event.host).status = "queued"
            view.dirty.add(event.host)
        elif isinstance(event, HostFinished):
            self._finish_host(view, event)
        elif isinstance(event, BatchFinished):
            view.batches_done = event.index
            view.batches_total = max(view.batches_total, event.total)
            view.changed = True
        elif isinstance(event, RunStarted):
            self._start(view, event)
        elif isinstance(event, RunFinished):
            self._finish_run(view, event)

    def abort(self, run_id: str, reason: str) -> None:
        """End a run whose runner died without its closing events, so no host stays "running" forever.

        Args:
            run_id: The run.
            reason: Why, shown as the error of every host that had not finished.
        """
        view = self.runs.get(run_id)
        if view is None or view.done:
            return
        for host in list(view.hosts.values()):
            if not host.finished:
                self.handle(HostFinished(run_id, host.name, "error", None, 0.0, reason))
        statuses: dict[str, int] = {}
        for host in view.hosts.values():
            statuses[host.status] = statuses.get(host.status, 0) + 1
        self.handle(RunFinished(run_id, statuses, 1, 0.0))

    def close(self) -> None:
        """End of one run's events: lines still open in finished runs are flushed."""
        for view in self.runs.values():
            if view.done:
                for host in view.hosts.values():
                    if host.flush():
                        view.dirty.add(host.name)

    def _view(self, run_id: str, hosts: int) -> RunView:
        view = self.runs.get(run_id)
        if view is None:
            view = RunView(
                run_id=run_id,
                max_lines=self.lines_per_host(hosts) if hosts else self.max_lines,
                gatherer=Gatherer(self.gather_head_bytes),
            )
            self.runs[run_id] = view
            finished = [rid for rid, other in self.runs.items() if other.done]
            for rid in finished[: max(0, len(self.runs) - self.max_runs)]:
                del self.runs[rid]
            for listener in list(self.listeners):
                listener(run_id)
        return view

    def _start(self, view: RunView, event: RunStarted) -> None:
        view.task = event.task
        view.selector = event.selector
        view.command = event.command
        view.params = dict(event.params)
        view.started = event.time
        if not view.hosts:
            view.max_lines = self.lines_per_host(len(event.hosts))
        for name in event.hosts:
            view.host(name)
        view.dirty.update(event.hosts)
        view.changed = True

    @staticmethod
    def _finish_host(view: RunView, event: HostFinished) -> None:
        host = view.host(event.host)
        host.flush()
        host.status = event.status
        host.exit_status = event.exit_status
        host.duration_s = event.duration_s
        host.error = host_error(event.host, event.error) if event.error else None
        if event.step:
            host.step = event.step
        view.dirty.add(event.host)
        view.changed = True

    @staticmethod
    def _finish_run(view: RunView, event: RunFinished) -> None:
        view.finished = event
        for host in view.hosts.values():
            if host.flush():
                view.dirty.add(host.name)
        view.changed = True
