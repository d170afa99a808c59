"""Automatic remediation: a firing alert whose rule names a saved task runs it, inside guard rails.

Guard rails (``remediation.toml``): only tasks on the allow-list run; a cooldown per host and task;
a cap on remediation runs per hour; a cap on hosts per run; and optional approval, in which case the
run waits in a persistent queue until someone approves it (``fleetdeck remediation approve ID`` or
the console). Hosts alerting on the same rule within a short window share one run. Every automatic
run is recorded as automatic with the alert that caused it, and reported through ``report``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fleetdeck.core.alerts.rules import Rule
from fleetdeck.core.alerts.state import AlertChanged
from fleetdeck.core.automation.schedules import parse_duration
from fleetdeck.core.config.messages import issues_from_validation
from fleetdeck.core.errors import ConfigIssue, FleetdeckError, format_key_path
from fleetdeck.core.nodeset import fold
from fleetdeck.core.tasks.model import Task

FILE = "remediation.toml"
QUEUE_DB = "remediation.db"
"""The approval queue's database, in the state dir."""
Log = Callable[[str, str], None]
Report = Callable[[str, str, Mapping[str, str]], None]
"""``report(title, text, labels)``: tell people about a remediation (the daemon turns it into a notice)."""


class _RemediationFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    allow: list[str] = Field(default_factory=list)
    cooldown: str = "30m"
    max_runs_per_hour: int = Field(6, ge=0)
    max_hosts_per_run: int = Field(5, ge=1)
    approval: bool = False
    batch_window: str = "5s"


@dataclass(frozen=True, slots=True)
class RemediationConfig:
    """Guard rails; the default (no file) allows nothing, so nothing runs automatically by surprise."""

    allow: frozenset[str] = frozenset()
    cooldown_s: float = 1800.0
    max_runs_per_hour: int = 6
    max_hosts_per_run: int = 5
    approval: bool = False
    batch_window_s: float = 5.0


def load_remediation(raw: dict[str, Any], tasks: Mapping[str, Task], issues: list[ConfigIssue]) -> RemediationConfig:
    """Validate ``remediation.toml``; allow-listed tasks must exist."""
    try:
        data = _RemediationFile.model_validate(raw)
    except ValidationError as exc:
        issues.extend(issues_from_validation(exc, FILE, _RemediationFile))
        return RemediationConfig()
    before = len(issues)
    for i, name in enumerate(data.allow):
        if name not in tasks:
            known = ", ".join(tasks) or "none defined"
            issues.append(ConfigIssue(FILE, format_key_path(["allow", i]), f'unknown task "{name}" (tasks: {known})'))
    durations = {}
    for key in ("cooldown", "batch_window"):
        value = parse_duration(getattr(data, key))
        if value is None:
            issues.append(ConfigIssue(FILE, key, f'expected a duration such as "30m", got "{getattr(data, key)}"'))
        durations[key] = value.total_seconds() if value is not None else 0.0
    if len(issues) != before:
        return RemediationConfig()
    return RemediationConfig(frozenset(data.allow), durations["cooldown"], data.max_runs_per_hour,
                             data.max_hosts_per_run, data.approval, durations["batch_window"])  # fmt: skip


@dataclass(frozen=True, slots=True)
class Request:
    """A remediation waiting to run (or for approval): one rule's task on some of its alerting hosts."""

    id: int
    rule: str
    task: str
    hosts: tuple[str, ...]
    params: Mapping[str, str]
    reason: str
    created: float
    status: str = "pending"


@dataclass(frozen=True, slots=True)
class Decision:
    """A request someone approved or denied: who and when (its ``status`` says what became of it since)."""

    request: Request
    by: str
    at: float


def _request(row: Sequence[Any]) -> Request:
    return Request(row[0], row[1], row[2], tuple(json.loads(row[3])), json.loads(row[4]), row[5], row[6], row[7])


class ApprovalQueue:
    """Remediations that wait for a person, in SQLite so another process can list and approve them."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = state_dir / QUEUE_DB
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS requests (id INTEGER PRIMARY KEY, rule TEXT, task TEXT, hosts TEXT,"
                " params TEXT, reason TEXT, created REAL, status TEXT, decided_by TEXT, decided REAL)"
            )

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def add(self, rule: str, task: str, hosts: Sequence[str], params: Mapping[str, str], reason: str) -> int:
        """Queue a request for approval; returns its id."""
        with self._db() as db:
            cur = db.execute(
                "INSERT INTO requests (rule, task, hosts, params, reason, created, status) VALUES (?,?,?,?,?,?,?)",
                (rule, task, json.dumps(list(hosts)), json.dumps(dict(params)), reason, time.time(), "pending"),
            )
            return int(cur.lastrowid or 0)

    def decided(self, limit: int = 20) -> list[Decision]:
        """The ``limit`` most recent decisions, newest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT id, rule, task, hosts, params, reason, created, status, decided_by, decided FROM requests"
                " WHERE status != 'pending' AND decided IS NOT NULL ORDER BY decided DESC, id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [Decision(_request(r), r[8] or "", r[9]) for r in rows]

    def list(self, status: str | None = "pending") -> list[Request]:
        """Requests, oldest first, optionally only those in ``status``."""
        query = "SELECT id, rule, task, hosts, params, reason, created, status FROM requests"
        args: tuple[Any, ...] = ()
        if status is not None:
            query += " WHERE status = ?"
            args = (status,)
        with self._db() as db:
            rows = db.execute(query + " ORDER BY id", args).fetchall()
        return [Request(r[0], r[1], r[2], tuple(json.loads(r[3])), json.loads(r[4]), r[5], r[6], r[7]) for r in rows]

    def decide(self, request_id: int, approve: bool, by: str) -> Request:
        """Approve or deny a pending request; raises :class:`FleetdeckError` when there is none."""
        status = "approved" if approve else "denied"
        with self._db() as db:
            cur = db.execute(
                "UPDATE requests SET status = ?, decided_by = ?, decided = ? WHERE id = ? AND status = 'pending'",
                (status, by, time.time(), request_id),
            )
            if cur.rowcount != 1:
                raise FleetdeckError(f"no pending remediation with id {request_id}")
        return next(r for r in self.list(None) if r.id == request_id)

    def mark(self, request_id: int, status: str) -> None:
        """Record what became of an approved request (``running``, ``done``)."""
        with self._db() as db:
            db.execute("UPDATE requests SET status = ? WHERE id = ?", (status, request_id))


@dataclass
class _Batch:
    rule: Rule
    hosts: list[str] = field(default_factory=list)
    values: dict[str, float | None] = field(default_factory=dict)
    opened: float = field(default_factory=time.monotonic)


class Remediator:
    """Turns firing alerts into guarded task runs."""

    def __init__(
        self,
        config: RemediationConfig,
        rules: Mapping[str, Rule],
        run_task: Callable[[str, Sequence[str], Mapping[str, str], str], Awaitable[int]],
        *,
        queue: ApprovalQueue | None = None,
        log: Log,
        report: Report | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.rules = rules
        self.run_task = run_task
        self.queue = queue
        self.log = log
        self.report = report
        self.clock = clock
        self._batches: dict[str, _Batch] = {}
        self._last_run: dict[tuple[str, str], float] = {}
        self._runs: deque[float] = deque()
        self._tasks: set[asyncio.Task[None]] = set()

    def on_alert(self, change: AlertChanged) -> None:
        """Note an alert change; firing alerts of rules with a remediation join their rule's batch.

        Only a start of firing counts: ``firing -> firing`` is a late announcement of an alert that was already
        firing (inhibited by a worse one until now), and its remediation, if due, was considered then.
        """
        if change.new_state != "firing" or change.old_state == "firing" or change.silenced:
            return
        rule = self.rules.get(change.rule)
        if rule is None or rule.remediate is None:
            return
        batch = self._batches.setdefault(rule.name, _Batch(rule, opened=self.clock()))
        if change.host not in batch.hosts:
            batch.hosts.append(change.host)
            batch.values[change.host] = change.value

    def due_batches(self) -> list[_Batch]:
        """Batches whose collection window has passed (removed from the pending set)."""
        now = self.clock()
        ready = [b for b in self._batches.values() if now - b.opened >= self.config.batch_window_s]
        for b in ready:
            del self._batches[b.rule.name]
        return ready

    def admit(self, batch: _Batch) -> tuple[list[str], list[str]]:
        """Apply the guard rails to a batch: the hosts that may run now, and why others may not."""
        rule = batch.rule
        assert rule.remediate is not None
        task = rule.remediate.task
        if task not in self.config.allow:
            return [], [f"task {task} is not on the remediation allow-list ({FILE}: allow)"]
        now = self.clock()
        while self._runs and now - self._runs[0] > 3600:
            self._runs.popleft()
        if len(self._runs) >= self.config.max_runs_per_hour:
            return [], [f"cap of {self.config.max_runs_per_hour} remediation runs per hour reached"]
        notes = []
        hosts = []
        for host in batch.hosts:
            last = self._last_run.get((task, host))
            if last is not None and now - last < self.config.cooldown_s:
                notes.append(f"{host} is cooling down ({int(self.config.cooldown_s - (now - last))}s left)")
                continue
            hosts.append(host)
        if len(hosts) > self.config.max_hosts_per_run:
            skipped = hosts[self.config.max_hosts_per_run :]
            notes.append(f"cap of {self.config.max_hosts_per_run} hosts per run: not {fold(skipped)}")
            hosts = hosts[: self.config.max_hosts_per_run]
        return hosts, notes

    def dispatch(self, batch: _Batch) -> None:
        """Admit a batch and start (or queue for approval) its run."""
        rule = batch.rule
        assert rule.remediate is not None
        hosts, notes = self.admit(batch)
        for note in notes:
            self.log("warning", f"remediation for {rule.name}: {note}")
        if not hosts:
            if notes and self.report is not None:
                self.report(f"Remediation of {rule.name} held back", "; ".join(notes), {"alertname": rule.name})
            return
        params = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in rule.remediate.params.items()}
        shown = ", ".join(f"{h}={v:g}" if v is not None else h for h, v in ((h, batch.values.get(h)) for h in hosts))
        reason = f"remediation for alert {rule.name} ({rule.expr}) on {shown}"
        now = self.clock()
        for host in hosts:
            self._last_run[(rule.remediate.task, host)] = now
        self._runs.append(now)
        if self.config.approval and self.queue is not None:
            request_id = self.queue.add(rule.name, rule.remediate.task, hosts, params, reason)
            self.log("info", f"remediation #{request_id} for {rule.name} waits for approval: task "
                             f"{rule.remediate.task} on {fold(hosts)}")  # fmt: skip
            if self.report is not None:
                self.report(f"Remediation #{request_id} awaits approval",
                            f"{reason}\napprove with: fleetdeck remediation approve {request_id}",
                            {"alertname": rule.name})  # fmt: skip
            return
        self._start(rule.remediate.task, hosts, params, reason, rule.name)

    def _start(self, task: str, hosts: Sequence[str], params: Mapping[str, str], reason: str, rule: str) -> None:
        async def go() -> None:
            self.log("info", f"remediation: running {task} on {fold(hosts)} ({reason})")
            try:
                code = await self.run_task(task, hosts, params, reason)
            except FleetdeckError as exc:
                self.log("error", f"remediation: task {task} could not start: {exc}")
                code = 64
            outcome = "succeeded" if code == 0 else f"ended with exit code {code}"
            self.log("info" if code == 0 else "warning", f"remediation: {task} on {fold(hosts)} {outcome}")
            if self.report is not None:
                self.report(f"Remediation {task} on {fold(hosts)} {outcome}", reason, {"alertname": rule})

        task_ = asyncio.ensure_future(go())
        self._tasks.add(task_)
        task_.add_done_callback(self._tasks.discard)

    def approved(self) -> None:
        """Start requests someone approved since the last look (approvals may come from another process)."""
        if self.queue is None:
            return
        for request in self.queue.list("approved"):
            self.queue.mark(request.id, "running")
            self._start(request.task, request.hosts, request.params, request.reason + f" (approved #{request.id})",
                        request.rule)  # fmt: skip

    async def run(self, tick_s: float = 1.0) -> None:
        """Dispatch due batches and approved requests until cancelled."""
        try:
            while True:
                for batch in self.due_batches():
                    self.dispatch(batch)
                self.approved()
                await asyncio.sleep(tick_s)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)


def replace_reason(prepared: Any, reason: str) -> Any:
    """A prepared run marked automatic with ``reason`` (for the audit trail)."""
    request = dataclasses.replace(prepared.request, automatic=True, reason=reason)
    return dataclasses.replace(prepared, request=request)


def env_for_runs() -> dict[str, str]:
    """Environment for automatic runs: secrets come from the daemon's environment, as for people."""
    return dict(os.environ)
