"""The run store: every byte of every host's output on disk as it arrives, and a SQLite record of runs.

Layout under the state dir (:func:`fleetdeck.core.paths.state_dir`): ``fleetdeck.db`` (runs, host results,
audit trail; WAL) and ``runs/<run_id>/<host>.{out,err,idx}`` (raw stdout, raw stderr, and the index that
replays their interleaving). :class:`RunStore` writes and queries the record; :class:`StoreSink` feeds it
from a runner's events.
"""

from __future__ import annotations

from fleetdeck.core.store.db import (
    UNFINISHED,
    AuditEntry,
    HostResultRecord,
    RunRecord,
    RunStatus,
    RunStore,
    StoreError,
    UnknownRunError,
    UnknownRunHostError,
    iso_time,
    new_run_id,
    run_status,
)
from fleetdeck.core.store.output_files import HostOutput, assign_file_names, iter_chunks, safe_name
from fleetdeck.core.store.sink import StoreSink

__all__ = [
    "UNFINISHED",
    "AuditEntry",
    "HostOutput",
    "HostResultRecord",
    "RunRecord",
    "RunStatus",
    "RunStore",
    "StoreError",
    "StoreSink",
    "UnknownRunError",
    "UnknownRunHostError",
    "assign_file_names",
    "iso_time",
    "iter_chunks",
    "new_run_id",
    "run_status",
    "safe_name",
]
