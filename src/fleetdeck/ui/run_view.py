"""One run as the console follows it: the run's facts, its hosts in order, batch progress and counts.

:class:`RunView` is the state :class:`~fleetdeck.ui.run_bridge.RunBridge` keeps per run and screens read; its
hosts are :class:`~fleetdeck.ui.host_run.HostRun` values. No Textual here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fleetdeck.core.nodeset import natural_key
from fleetdeck.core.runner.events import RunFinished
from fleetdeck.core.runner.gather import Gatherer
from fleetdeck.ui.host_run import HostRun

if TYPE_CHECKING:
    from fleetdeck.core.runner.service import Prepared

_FAILED = frozenset({"failed", "error"})
_UNREACHABLE = frozenset({"unreachable", "auth_failed", "host_key_failed"})
_IN_FLIGHT = frozenset({"connecting", "running"})


@dataclass(frozen=True, slots=True)
class RunCounts:
    """Hosts of a run by where they are, grouped the way the summary line shows them."""

    ok: int = 0
    failed: int = 0
    timeout: int = 0
    unreachable: int = 0
    running: int = 0
    queued: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        """All hosts."""
        return self.ok + self.failed + self.timeout + self.unreachable + self.running + self.queued + self.cancelled


@dataclass(slots=True)
class RunView:
    """One run as the console follows it.

    Attributes:
        run_id: The run.
        task: Task name, or ``exec`` for an ad-hoc command.
        selector: The target selector as given.
        command: The ad-hoc command, if any.
        params: Parameter values, secrets masked.
        hosts: Per-host state, in the run's host order.
        batches_total: How many rolling batches the run has (1 without batches).
        batches_done: Batches finished so far.
        started: Epoch seconds of ``RunStarted``.
        finished: The closing event, once the run is over.
        prepared: What the console started, kept so "rerun failed" can reuse the same parameters;
            ``None`` for runs replayed from the store.
        stored: True for a run replayed from the store (read-only in the console).
        gatherer: Groups finished hosts by identical output for the gathered view.
    """

    run_id: str
    max_lines: int
    task: str = ""
    selector: str = ""
    command: str | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    hosts: dict[str, HostRun] = field(default_factory=dict)
    batches_total: int = 1
    batches_done: int = 0
    started: float | None = None
    finished: RunFinished | None = None
    prepared: Prepared | None = None
    stored: bool = False
    gatherer: Gatherer = field(default_factory=Gatherer)
    dirty: set[str] = field(default_factory=set)
    changed: bool = True

    @property
    def done(self) -> bool:
        """Whether the run has ended."""
        return self.finished is not None

    @property
    def current_batch(self) -> int:
        """The batch running now (1-based), or the last one once the run is over."""
        return min(self.batches_done + (0 if self.done else 1), self.batches_total) or 1

    def host(self, name: str) -> HostRun:
        """The host's state, created on first mention (events may name hosts ``RunStarted`` did not)."""
        found = self.hosts.get(name)
        if found is None:
            found = self.hosts[name] = HostRun(name, deque(maxlen=self.max_lines), deque(maxlen=self.max_lines))
        return found

    def counts(self) -> RunCounts:
        """Hosts by summary group."""
        tally: dict[str, int] = {}
        for host in self.hosts.values():
            tally[host.status] = tally.get(host.status, 0) + 1
        return RunCounts(
            ok=tally.get("ok", 0),
            failed=sum(tally.get(s, 0) for s in _FAILED),
            timeout=tally.get("timeout", 0),
            unreachable=sum(tally.get(s, 0) for s in _UNREACHABLE),
            running=sum(tally.get(s, 0) for s in _IN_FLIGHT),
            queued=tally.get("queued", 0),
            cancelled=tally.get("cancelled", 0),
        )

    def failed_hosts(self) -> list[str]:
        """Hosts that ended any way but ``ok`` (what ``@RUN.failed`` selects), in natural order."""
        return sorted(
            (h.name for h in self.hosts.values() if h.finished and h.status != "ok"),
            key=natural_key,
        )
