"""The NDJSON sink: one JSON object per run event and line, with a stable set of keys per event kind, for scripts."""

from __future__ import annotations

import base64
import json
from typing import TextIO

from fleetdeck.core.runner.events import (
    BatchFinished,
    HostConnecting,
    HostFinished,
    HostQueued,
    HostRunning,
    Output,
    RunEvent,
    RunStarted,
)


def event_record(event: RunEvent) -> dict[str, object]:
    """The JSON object for one event: an ``event`` kind, the run id, the event's fields and its epoch ``time``."""
    record: dict[str, object]
    if isinstance(event, Output):
        record = {"event": "output", "run_id": event.run_id, "host": event.host, "stream": event.stream}
        record["step"] = event.step
        try:
            record["data"] = event.data.decode("utf-8")
        except UnicodeDecodeError:
            record["data"] = event.data.decode("utf-8", "replace")
            # Scripts get the exact bytes back from here; ``data`` is only a readable approximation.
            record["data_b64"] = base64.b64encode(event.data).decode("ascii")
    elif isinstance(event, HostFinished):
        record = {"event": "host_finished", "run_id": event.run_id, "host": event.host, "status": event.status}
        record["exit_status"] = event.exit_status
        record["duration_s"] = round(event.duration_s, 3)
        record["error"] = event.error
        record["step"] = event.step
        record["kill_confirmed"] = event.kill_confirmed
    elif isinstance(event, HostRunning):
        record = {"event": "host_started", "run_id": event.run_id, "host": event.host, "step": event.step}
        record["step_index"] = event.step_index
        record["attempt"] = event.attempt
    elif isinstance(event, HostQueued):
        record = {"event": "host_queued", "run_id": event.run_id, "host": event.host}
    elif isinstance(event, HostConnecting):
        record = {"event": "host_connecting", "run_id": event.run_id, "host": event.host}
    elif isinstance(event, RunStarted):
        record = {"event": "run_started", "run_id": event.run_id, "task": event.task, "selector": event.selector}
        record["hosts"] = list(event.hosts)
        record["params"] = dict(event.params)
        record["command"] = event.command
        record["user"] = event.user
        record["automatic"] = event.automatic
        record["reason"] = event.reason
    elif isinstance(event, BatchFinished):
        record = {"event": "batch_finished", "run_id": event.run_id, "index": event.index, "total": event.total}
        record["hosts"] = list(event.hosts)
        record["failed"] = event.failed
        record["halted"] = event.halted
    else:
        record = {"event": "run_finished", "run_id": event.run_id, "counts": dict(event.counts)}
        record["exit_code"] = event.exit_code
        record["duration_s"] = round(event.duration_s, 3)
        record["halted"] = event.halted
        record["cancelled"] = event.cancelled
    record["time"] = event.time
    return record


class NdjsonSink:
    """Writes one JSON object per event and line (see :func:`event_record`), flushed at once for pipes.

    Args:
        out: Where the lines go (stdout).
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def handle(self, event: RunEvent) -> None:
        """Write the event's line."""
        # ASCII escapes keep the lines valid whatever encoding the stream was opened with.
        self._out.write(json.dumps(event_record(event), separators=(",", ":"), default=str) + "\n")
        self._out.flush()

    def close(self) -> None:
        """Flush the stream."""
        self._out.flush()
