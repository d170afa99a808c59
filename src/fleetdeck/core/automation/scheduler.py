"""Run schedules on time: one run per fire, never two of the same schedule at once, missed runs by policy.

The last fire time of every schedule is kept in an app-owned state file, so a restart knows what it
missed. Runs go through the same engine as everything else and are recorded as automatic, with the
schedule as the reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import tomli_w

from fleetdeck.core.automation.schedules import Schedule
from fleetdeck.core.errors import FleetdeckError
from fleetdeck.core.runner.events import Sink
from fleetdeck.core.runner.service import Engine

Log = Callable[[str, str], None]
"""``log(level, message)``; level is ``info``, ``warning`` or ``error``."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ScheduleStatus:
    """What ``fleetdeck schedules`` shows for one schedule."""

    schedule: Schedule
    next_run: datetime | None
    last_fire: datetime | None
    last_run_id: str | None
    last_exit: int | None


class ScheduleState:
    """Last fire time, run id and exit code per schedule, in a small TOML file written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, dict[str, object]] = {}
        if path.is_file():
            try:
                loaded = tomllib.loads(path.read_text(encoding="utf-8"))
                self.data = {k: dict(v) for k, v in loaded.items() if isinstance(v, dict)}
            except (OSError, tomllib.TOMLDecodeError):
                self.data = {}

    def last_fire(self, name: str) -> datetime | None:
        """When the schedule last fired (or was baselined)."""
        value = self.data.get(name, {}).get("last_fire")
        return value if isinstance(value, datetime) else None

    def record(self, name: str, **values: object) -> None:
        """Update a schedule's entry and save the file."""
        entry = self.data.setdefault(name, {})
        entry.update({k: v for k, v in values.items() if v is not None})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(tomli_w.dumps(self.data), encoding="utf-8")
        tmp.replace(self.path)


def schedule_status(schedules: Sequence[Schedule], state: ScheduleState, now: datetime) -> list[ScheduleStatus]:
    """Next run after ``now`` and last run as ``state`` records it, per schedule; a disabled one has no next run.

    Readers other than the scheduler (the console) call this with a fresh :class:`ScheduleState`, so they
    see what a running daemon recorded.
    """
    out = []
    for s in schedules:
        entry = state.data.get(s.name, {})
        run_id = entry.get("last_run_id")
        exit_code = entry.get("last_exit")
        out.append(ScheduleStatus(s, s.next_after(now) if s.enabled else None, state.last_fire(s.name),
                                  run_id if isinstance(run_id, str) else None,
                                  exit_code if isinstance(exit_code, int) else None))  # fmt: skip
    return out


class Scheduler:
    """Fires schedules until cancelled."""

    def __init__(
        self,
        schedules: Sequence[Schedule],
        engine: Engine,
        *,
        state_file: Path,
        log: Log,
        sinks: Callable[[], list[Sink]] = list,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.schedules = [s for s in schedules if s.enabled]
        self.engine = engine
        self.state = ScheduleState(state_file)
        self.log = log
        self.sinks = sinks
        self.clock = clock
        self.running: dict[str, asyncio.Task[None]] = {}

    def status(self) -> list[ScheduleStatus]:
        """Next and last run of every schedule."""
        return schedule_status(self.schedules, self.state, self.clock())

    def catch_up(self) -> list[tuple[Schedule, datetime]]:
        """Fires to make up at start, by each schedule's missed-run policy (and baseline new ones)."""
        now = self.clock()
        due: list[tuple[Schedule, datetime]] = []
        for s in self.schedules:
            last = self.state.last_fire(s.name)
            if last is None:
                # Never fired: start counting from now, do not invent a past run.
                self.state.record(s.name, last_fire=now)
                continue
            missed = s.previous_due(last, now)
            if missed is None:
                continue
            if s.missed == "run-once" and now - missed <= s.catch_up_within:
                self.log("info", f"schedule {s.name}: catching up the run due {missed.isoformat()} (missed)")
                due.append((s, missed))
            else:
                why = "policy skip" if s.missed == "skip" else f"older than {s.catch_up_within}"
                self.log("info", f"schedule {s.name}: skipping the run due {missed.isoformat()} ({why})")
                self.state.record(s.name, last_fire=missed)
        return due

    async def run(self) -> None:
        """Fire schedules on time until cancelled; runs still going are cancelled with it."""
        try:
            for schedule, fire in self.catch_up():
                self._fire(schedule, fire)
            while True:
                now = self.clock()
                upcoming = [(s.next_after(self.state.last_fire(s.name) or now), s) for s in self.schedules]
                if not upcoming:
                    await asyncio.Event().wait()
                fire, _ = min(upcoming, key=lambda item: item[0])
                wait = (fire - now).total_seconds()
                if wait > 0:
                    # Wake at least every minute so clock jumps (suspend, NTP) are noticed.
                    await asyncio.sleep(min(wait, 60.0))
                    continue
                for when, s in upcoming:
                    if when <= now:
                        self._fire(s, when)
        finally:
            for task in list(self.running.values()):
                task.cancel()
            if self.running:
                await asyncio.gather(*self.running.values(), return_exceptions=True)

    def _fire(self, schedule: Schedule, fire: datetime) -> None:
        self.state.record(schedule.name, last_fire=fire)
        previous = self.running.get(schedule.name)
        if previous is not None and not previous.done():
            self.log("warning", f"schedule {schedule.name}: previous run still going; skipping the run due "
                                f"{fire.isoformat()} (schedules never overlap)")  # fmt: skip
            return
        self.running[schedule.name] = asyncio.ensure_future(self._launch(schedule, fire))

    async def _launch(self, schedule: Schedule, fire: datetime) -> None:
        reason = f"schedule {schedule.name} ({schedule.cron}, due {fire.isoformat()})"
        try:
            run_id = self.engine.new_run_id()
            prepared = self.engine.prepare_task(
                schedule.task, schedule.targets, schedule.params, env=dict(os.environ), run_id=run_id
            )
        except FleetdeckError as exc:
            self.log("error", f"schedule {schedule.name}: cannot start task {schedule.task}: {exc}")
            self.state.record(schedule.name, last_exit=64)
            return
        request = dataclasses.replace(prepared.request, automatic=True, reason=reason)
        prepared = dataclasses.replace(prepared, request=request)
        self.log("info", f"schedule {schedule.name}: run {run_id} of task {schedule.task} on "
                         f"{len(prepared.plans)} hosts")  # fmt: skip
        summary = await self.engine.run(prepared, self.sinks())
        level = "info" if summary.exit_code == 0 else "warning"
        self.log(level, f"schedule {schedule.name}: run {run_id} finished with exit code {summary.exit_code}")
        self.state.record(schedule.name, last_run_id=run_id, last_exit=summary.exit_code)
