"""`AutomationFeed`: the console's view of schedules and of the remediation approval queue.

The daemon fires schedules and runs remediations; the console only reads what it recorded and decides
queued requests. Each read takes a fresh look at the schedule state file and the queue's database, so
fires, runs and decisions made by another process (the daemon, `fleetdeck remediation approve`) show up.
Next run times come from the core (`schedule_status`), decisions go through `ApprovalQueue.decide` exactly
as the CLI's do. Every call blocks on the disk: the screen calls them from a thread. No Textual here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fleetdeck.core.automation.daemon import SCHEDULE_STATE
from fleetdeck.core.automation.remediation import QUEUE_DB, ApprovalQueue, Decision, RemediationConfig, Request
from fleetdeck.core.automation.scheduler import ScheduleState, ScheduleStatus, schedule_status
from fleetdeck.core.automation.schedules import Schedule
from fleetdeck.ui.alerts_feed import operator_name

DECISIONS_SHOWN = 20
"""Recent decisions listed under the queue."""


@dataclass(frozen=True, slots=True)
class AutomationSnapshot:
    """One consistent read of everything the automation screen shows.

    Attributes:
        schedules: Every configured schedule with its next and last run.
        pending: Requests waiting for a decision, oldest first.
        decisions: The most recent decisions, newest first.
        taken_at: When the next run times were computed (epoch seconds).
    """

    schedules: list[ScheduleStatus] = field(default_factory=list)
    pending: list[Request] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    taken_at: float = 0.0


class AutomationFeed:
    """Schedules and approvals as the daemon recorded them, read from the state dir.

    Args:
        schedules: The configured schedules, disabled ones included.
        state_dir: Where the daemon keeps the schedule state and the approval queue.
        remediation: The guard rails (the screen explains what approval and the allow-list mean).
        task_targets: Each task's default targets, for schedules that name none.
        config_dir: The config directory, named in the empty states.
    """

    def __init__(
        self,
        schedules: Sequence[Schedule],
        state_dir: Path,
        *,
        remediation: RemediationConfig | None = None,
        task_targets: Mapping[str, str | None] | None = None,
        config_dir: Path | None = None,
    ) -> None:
        self.schedules = list(schedules)
        self.state_dir = state_dir
        self.remediation = remediation or RemediationConfig()
        self.task_targets = dict(task_targets or {})
        self.config_dir = config_dir
        self._queue: ApprovalQueue | None = None

    def _open_queue(self, create: bool) -> ApprovalQueue | None:
        """The queue; without `create`, `None` until its database exists (the console leaves no file behind)."""
        if self._queue is None and (create or (self.state_dir / QUEUE_DB).exists()):
            self._queue = ApprovalQueue(self.state_dir)
        return self._queue

    def targets(self, schedule: Schedule) -> str:
        """The selector a schedule runs on: its own, else its task's default."""
        return schedule.targets or self.task_targets.get(schedule.task) or ""

    def read(self, now: float, *, decisions: int = DECISIONS_SHOWN) -> AutomationSnapshot:
        """Schedules with next runs after `now`, pending requests and recent decisions."""
        state = ScheduleState(self.state_dir / SCHEDULE_STATE)
        statuses = schedule_status(self.schedules, state, datetime.fromtimestamp(now, UTC))
        queue = self._open_queue(create=False)
        if queue is None:
            return AutomationSnapshot(statuses, taken_at=now)
        return AutomationSnapshot(statuses, queue.list("pending"), queue.decided(decisions), now)

    def decide(self, request_id: int, *, approve: bool, by: str | None = None) -> Request:
        """Approve or deny a pending request, as `fleetdeck remediation approve|deny ID` does.

        Raises:
            FleetdeckError: when no pending request has that id (e.g. decided elsewhere meanwhile).
        """
        queue = self._open_queue(create=True)
        assert queue is not None
        return queue.decide(request_id, approve=approve, by=by or operator_name())
