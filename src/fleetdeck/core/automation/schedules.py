"""Schedules (``schedules.toml``): saved tasks run by cron expressions, without overlapping themselves.

Cron expressions are parsed by ``cronsim`` (standard five fields, plus ``@daily``-style names), in
the schedule's time zone. Missed runs (fleetdeck was not running when one was due) follow a stated
policy: ``run-once`` (the default, like anacron: one catch-up run at start, however many were missed,
if the latest missed one is younger than ``catch_up_within``) or ``skip``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fleetdeck.core.config.messages import issues_from_validation
from fleetdeck.core.errors import ConfigIssue, format_key_path
from fleetdeck.core.inventory import Inventory
from fleetdeck.core.selector import SelectorError
from fleetdeck.core.tasks.model import Task
from fleetdeck.core.tasks.params import ParamError, bind_params

FILE = "schedules.toml"
MissedPolicy = Literal["run-once", "skip"]
_NAMED = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")


class _ScheduleEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str
    cron: str
    task: str
    targets: str | None = None
    params: dict[str, str | int | bool] = Field(default_factory=dict)
    timezone: str = "UTC"
    missed: MissedPolicy = "run-once"
    catch_up_within: str = "24h"
    enabled: bool = True
    description: str = ""


class _SchedulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    schedules: list[_ScheduleEntry] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Schedule:
    """One validated schedule."""

    name: str
    cron: str
    task: str
    targets: str | None
    params: Mapping[str, str] = field(default_factory=dict)
    timezone: str = "UTC"
    missed: MissedPolicy = "run-once"
    catch_up_within: timedelta = timedelta(hours=24)
    enabled: bool = True
    description: str = ""

    def expression(self) -> str:
        """The five-field expression (named shortcuts expanded)."""
        return _NAMED.get(self.cron.strip().lower(), self.cron.strip())

    def next_after(self, moment: datetime) -> datetime:
        """The first fire time strictly after ``moment``, in the schedule's time zone."""
        local = moment.astimezone(ZoneInfo(self.timezone))
        return next(iter(CronSim(self.expression(), local.replace(microsecond=0))))

    def previous_due(self, last: datetime, now: datetime) -> datetime | None:
        """The latest fire time in ``(last, now]``, or None when none was due."""
        due: datetime | None = None
        moment = last
        for _ in range(100_000):  # bounded: a minutely schedule over ~69 days
            fire = self.next_after(moment)
            if fire > now:
                break
            due = fire
            moment = fire
        return due


def parse_duration(text: str) -> timedelta | None:
    """``30s``, ``5m``, ``2h``, ``1d`` → timedelta; None when malformed."""
    match = _DURATION.match(text)
    if match is None:
        return None
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


def load_schedules(
    raw: dict[str, Any], tasks: Mapping[str, Task], inventory: Inventory | None, issues: list[ConfigIssue]
) -> list[Schedule]:
    """Validate ``schedules.toml``: shape, cron syntax, time zone, task, targets and parameters."""
    try:
        data = _SchedulesFile.model_validate(raw)
    except ValidationError as exc:
        issues.extend(issues_from_validation(exc, FILE, _SchedulesFile))
        return []
    out: list[Schedule] = []
    seen: set[str] = set()
    for i, entry in enumerate(data.schedules):
        base: list[str | int] = ["schedules", i]

        def issue(key: str, message: str, base: list[str | int] = base) -> None:
            issues.append(ConfigIssue(FILE, format_key_path([*base, key]), message))

        before = len(issues)
        if entry.name in seen:
            issue("name", f'duplicate schedule name "{entry.name}"')
        seen.add(entry.name)
        try:
            ZoneInfo(entry.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            issue("timezone", f'unknown time zone "{entry.timezone}" (use an IANA name such as "Europe/Berlin")')
        expression = _NAMED.get(entry.cron.strip().lower(), entry.cron.strip())
        try:
            CronSim(expression, datetime(2026, 1, 1))
        except CronSimError as exc:
            issue("cron", f'invalid cron expression "{entry.cron}": {exc}')
        window = parse_duration(entry.catch_up_within)
        if window is None:
            issue("catch_up_within", f'expected a duration such as "24h", got "{entry.catch_up_within}"')
        task = tasks.get(entry.task)
        if task is None:
            issue("task", f'unknown task "{entry.task}" (tasks: {", ".join(tasks) or "none defined"})')
        else:
            selector = entry.targets or task.targets
            if not selector:
                issue("targets", f"task {task.name} has no default targets; give targets here")
            elif inventory is not None:
                try:
                    inventory.select(selector)
                except SelectorError as exc:
                    issue("targets", str(exc))
            try:
                bind_params(task, {k: _text(v) for k, v in entry.params.items()}, env={},
                            allow_missing_secrets=True)  # fmt: skip
            except ParamError as exc:
                issue("params", str(exc))
        if len(issues) == before:
            out.append(
                Schedule(
                    name=entry.name,
                    cron=entry.cron,
                    task=entry.task,
                    targets=entry.targets,
                    params={k: _text(v) for k, v in entry.params.items()},
                    timezone=entry.timezone,
                    missed=entry.missed,
                    catch_up_within=window or timedelta(hours=24),
                    enabled=entry.enabled,
                    description=entry.description,
                )
            )
    return out


def _text(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
