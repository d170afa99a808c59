"""Typed events of a run, published by the runner to its sinks (printer, NDJSON, store, console).

Events are frozen dataclasses so a sink can keep them without copying. ``Output`` carries raw bytes:
the store writes them byte for byte, and display sinks decode them. Every event has the run id, so one
sink can follow several runs at once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

Stream = Literal["stdout", "stderr"]

FinalStatus = Literal["ok", "failed", "timeout", "unreachable", "auth_failed", "host_key_failed", "cancelled", "error"]
"""How a host's run ended."""

FINAL_STATUSES: tuple[FinalStatus, ...] = (
    "ok",
    "failed",
    "timeout",
    "unreachable",
    "auth_failed",
    "host_key_failed",
    "cancelled",
    "error",
)

HostState = Literal["queued", "connecting", "running"] | FinalStatus
"""Where a host is in a run: in flight, or one of the final statuses."""


def _now() -> float:
    return time.time()


@dataclass(frozen=True, slots=True)
class RunStarted:
    """A run began: what, where, by whom. ``params`` has secrets masked already."""

    run_id: str
    task: str
    selector: str
    hosts: tuple[str, ...]
    params: Mapping[str, object] = field(default_factory=dict)
    command: str | None = None
    user: str = ""
    automatic: bool = False
    reason: str | None = None
    time: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class HostQueued:
    """A host is waiting for a slot (hosts in flight are limited)."""

    run_id: str
    host: str
    time: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class HostConnecting:
    """A host got a slot and its connection is being set up (or taken from the pool)."""

    run_id: str
    host: str
    time: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class HostRunning:
    """A step started on a host (``attempt`` counts retries from 1)."""

    run_id: str
    host: str
    step: str
    step_index: int
    attempt: int = 1
    time: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class Output:
    """A chunk of a host's output, exactly as received (secrets already masked)."""

    run_id: str
    host: str
    stream: Stream
    data: bytes
    step: str = ""
    time: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class HostFinished:
    """A host is done; ``error`` says why when the status is not ``ok``."""

    run_id: str
    host: str
    status: FinalStatus
    exit_status: int | None
    duration_s: float
    error: str | None = None
    step: str | None = None
    kill_confirmed: bool | None = None
    time: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class BatchFinished:
    """One rolling batch ended; ``halted`` when the failure budget stopped the remaining batches."""

    run_id: str
    index: int
    total: int
    hosts: tuple[str, ...]
    failed: int
    halted: bool = False
    time: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class RunFinished:
    """The run ended: per-status counts, the exit code a CLI would return, and why it stopped early."""

    run_id: str
    counts: Mapping[str, int]
    exit_code: int
    duration_s: float
    halted: bool = False
    cancelled: bool = False
    time: float = field(default_factory=_now)


RunEvent = RunStarted | HostQueued | HostConnecting | HostRunning | Output | HostFinished | BatchFinished | RunFinished


class Sink(Protocol):
    """Receives every event of a run, in order, on the event loop; must not block."""

    def handle(self, event: RunEvent) -> None:
        """Take one event."""

    def close(self) -> None:
        """The run is over and no more events will come; flush what is buffered."""
