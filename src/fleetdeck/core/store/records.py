"""The run store's records as plain values: runs, per-host results, audit lines, and the errors about them.

They live apart from the SQLite code so that what a run looks like, and how its status is derived, reads on its
own. A run's status is not stored but derived from its columns: rows are written as events arrive (a run when it
starts, a host when it finishes), so a crash leaves a readable record of what finished, and such a run shows as
``interrupted``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from fleetdeck.core.errors import FleetdeckError, UsageError

RunStatus = Literal["running", "interrupted", "ok", "failed", "halted", "cancelled"]

_MAX_LISTED = 10


class StoreError(FleetdeckError):
    """The run store cannot be used (closed, or a database from a newer fleetdeck)."""


class UnknownRunError(UsageError, ValueError):
    """A run reference matched no run, or more than one; the message names the ref and any candidates."""

    def __init__(self, ref: str, message: str, candidates: Sequence[str] = ()) -> None:
        self.ref = ref
        self.candidates = tuple(candidates)
        super().__init__(message)


class UnknownRunHostError(UsageError, ValueError):
    """A host is not part of a run; the message lists the hosts that are."""

    def __init__(self, run_id: str, host: str, hosts: Sequence[str]) -> None:
        self.run_id = run_id
        self.host = host
        self.hosts = tuple(hosts)
        super().__init__(f"host {host!r} is not part of run {run_id}; its hosts are: {_listing(self.hosts)}")


def _listing(items: Sequence[str]) -> str:
    if not items:
        return "(none)"
    shown = ", ".join(items[:_MAX_LISTED])
    more = len(items) - _MAX_LISTED
    return f"{shown}, ... ({more} more)" if more > 0 else shown


def new_run_id(now: float | None = None) -> str:
    """A run id that sorts by start time and reads as one: ``YYYYmmdd-HHMMSS-xxxx`` (UTC, 4 random hex)."""
    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return f"{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def iso_time(epoch: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with milliseconds (``2024-05-01T12:00:00.123Z``), for JSON output."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run as recorded; ``status`` is derived from the other columns (see :func:`run_status`)."""

    id: str
    task: str
    selector: str
    command: str | None
    params: Mapping[str, object]
    user: str
    hosts: tuple[str, ...]
    automatic: bool
    reason: str | None
    started: float
    finished: float | None
    exit_code: int | None
    halted: bool
    cancelled: bool
    counts: Mapping[str, int]
    status: RunStatus

    @property
    def duration_s(self) -> float | None:
        """Wall time of the run, ``None`` while it has no end."""
        return None if self.finished is None else max(0.0, self.finished - self.started)

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (times as ISO 8601 UTC) for ``fleetdeck history --json``."""
        return {
            "id": self.id,
            "status": self.status,
            "task": self.task,
            "selector": self.selector,
            "command": self.command,
            "params": dict(self.params),
            "user": self.user,
            "hosts": list(self.hosts),
            "host_count": len(self.hosts),
            "automatic": self.automatic,
            "reason": self.reason,
            "started": iso_time(self.started),
            "finished": iso_time(self.finished),
            "duration_s": self.duration_s,
            "exit_code": self.exit_code,
            "halted": self.halted,
            "cancelled": self.cancelled,
            "counts": dict(self.counts),
        }


@dataclass(frozen=True, slots=True)
class HostResultRecord:
    """How one host of a run ended, and where its output is (``output_path`` + ``.out``/``.err``/``.idx``).

    ``output_path`` is relative to the state dir, so the state dir can be moved.
    """

    run_id: str
    host: str
    status: str
    exit_status: int | None
    duration_s: float | None
    error: str | None
    step: str | None
    kill_confirmed: bool | None
    bytes_out: int
    bytes_err: int
    output_path: str
    started: float | None
    finished: float | None

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (times as ISO 8601 UTC)."""
        return {
            "run_id": self.run_id,
            "host": self.host,
            "status": self.status,
            "exit_status": self.exit_status,
            "duration_s": self.duration_s,
            "error": self.error,
            "step": self.step,
            "kill_confirmed": self.kill_confirmed,
            "bytes_out": self.bytes_out,
            "bytes_err": self.bytes_err,
            "output_path": self.output_path,
            "started": iso_time(self.started),
            "finished": iso_time(self.finished),
        }


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit trail: who did what, when, to which run."""

    id: int
    time: float
    user: str
    action: str
    run_id: str | None
    detail: Mapping[str, object]

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (time as ISO 8601 UTC)."""
        return {
            "id": self.id,
            "time": iso_time(self.time),
            "user": self.user,
            "action": self.action,
            "run_id": self.run_id,
            "detail": dict(self.detail),
        }


def run_status(
    *, finished: float | None, exit_code: int | None, halted: bool, cancelled: bool, active: bool
) -> RunStatus:
    """Derive a run's status; an unfinished run no writer in this process owns was cut short by a crash."""
    if finished is None:
        return "running" if active else "interrupted"
    if cancelled:
        return "cancelled"
    if halted:
        return "halted"
    return "ok" if exit_code == 0 else "failed"
