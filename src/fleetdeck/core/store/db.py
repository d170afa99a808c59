"""The SQLite record of runs, per-host results and the audit trail: the schema, its migrations and the queries.

``fleetdeck.db`` lives in the state dir next to ``runs/`` (the output files, see
:mod:`fleetdeck.core.store.output_files`). It uses WAL so readers (``fleetdeck history``, the console) never wait
for the writer, and ``PRAGMA user_version`` as the schema version so later releases can migrate it. Writes only
queue work for the background writer (:mod:`fleetdeck.core.store.writer`), so they never block the event loop;
reads open their own short-lived connection. The records it returns are in :mod:`fleetdeck.core.store.records`,
re-exported here.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from fleetdeck.core.runner.events import RunFinished, RunStarted, Stream
from fleetdeck.core.store.output_files import (
    assign_file_names,
    iter_chunks,
    make_private_dir,
    safe_name,
)
from fleetdeck.core.store.records import (
    _MAX_LISTED,
    AuditEntry,
    HostResultRecord,
    RunRecord,
    RunStatus,
    StoreError,
    UnknownRunError,
    UnknownRunHostError,
    iso_time,
    new_run_id,
    run_status,
)
from fleetdeck.core.store.writer import BATCH_SECONDS, BATCH_STATEMENTS, QUEUE_SIZE, _connect, _Item, _Marker, _Writer

__all__ = [
    "BATCH_SECONDS",
    "BATCH_STATEMENTS",
    "DB_NAME",
    "QUEUE_SIZE",
    "RUNS_DIR",
    "SCHEMA_VERSION",
    "UNFINISHED",
    "AuditEntry",
    "HostResultRecord",
    "RunRecord",
    "RunStatus",
    "RunStore",
    "StoreError",
    "UnknownRunError",
    "UnknownRunHostError",
    "iso_time",
    "new_run_id",
    "run_status",
]

log = logging.getLogger(__name__)

DB_NAME: Final = "fleetdeck.db"
RUNS_DIR: Final = "runs"
SCHEMA_VERSION: Final = 1

UNFINISHED: Final = "unfinished"
"""The status :meth:`RunStore.hosts_with_status` gives hosts of a run that have no result (yet)."""

_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: runs, per-host results, audit trail
    (
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            task TEXT NOT NULL,
            selector TEXT NOT NULL,
            command TEXT,
            params_json TEXT NOT NULL DEFAULT '{}',
            user TEXT NOT NULL DEFAULT '',
            hosts_json TEXT NOT NULL DEFAULT '[]',
            automatic INTEGER NOT NULL DEFAULT 0,
            reason TEXT,
            started REAL NOT NULL,
            finished REAL,
            exit_code INTEGER,
            halted INTEGER NOT NULL DEFAULT 0,
            cancelled INTEGER NOT NULL DEFAULT 0,
            counts_json TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX runs_by_started ON runs (started)",
        """CREATE TABLE host_results (
            run_id TEXT NOT NULL,
            host TEXT NOT NULL,
            status TEXT NOT NULL,
            exit_status INTEGER,
            duration_s REAL,
            error TEXT,
            step TEXT,
            kill_confirmed INTEGER,
            bytes_out INTEGER NOT NULL DEFAULT 0,
            bytes_err INTEGER NOT NULL DEFAULT 0,
            output_path TEXT NOT NULL,
            started REAL,
            finished REAL,
            PRIMARY KEY (run_id, host)
        )""",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            time REAL NOT NULL,
            user TEXT NOT NULL DEFAULT '',
            action TEXT NOT NULL,
            run_id TEXT,
            detail_json TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX audit_by_run ON audit (run_id)",
        "CREATE INDEX audit_by_time ON audit (time)",
    ),
)
"""Schema steps; step ``i`` takes ``user_version`` from ``i`` to ``i + 1``. Append, never edit."""

_RUN_REF = re.compile(r"-(\d+)")


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _loads_dict(text: str | None) -> dict[str, object]:
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


# -- the store -----------------------------------------------------------------------------------------------

_registry_lock = threading.Lock()
_open_stores: weakref.WeakSet[RunStore] = weakref.WeakSet()


def _close_at_exit(ref: weakref.ref[RunStore]) -> None:
    store = ref()
    if store is not None:
        store.close()


class RunStore:
    """Runs, host results and audit trail in ``<state_dir>/fleetdeck.db``, output files in ``<state_dir>/runs/``.

    Write methods only queue work and return at once, so they are safe to call from the event loop; call
    :meth:`flush` when a reader must see them (reads show what is committed, at most ~50 ms behind).
    :meth:`close` (also run at interpreter exit) flushes and stops the writer thread. Use one store per
    process and state dir; it is thread-safe.
    """

    def __init__(self, state_dir: Path) -> None:
        """Create the state dir (0700) and database (0600) if needed, migrate it, start the writer."""
        self.state_dir = Path(state_dir)
        self.db_path = self.state_dir / DB_NAME
        self.runs_dir = self.state_dir / RUNS_DIR
        make_private_dir(self.state_dir)
        make_private_dir(self.runs_dir)
        if not self.db_path.exists():
            os.close(os.open(self.db_path, os.O_RDWR | os.O_CREAT, 0o600))  # SQLite gives -wal/-shm this mode
        self._migrate()
        self._lock = threading.Lock()
        self._active: dict[str, str] = {}
        self._issued: set[str] = set()
        self._closed = False
        self._writer = _Writer(self.db_path)
        self._writer.start()
        self._atexit = functools.partial(_close_at_exit, weakref.ref(self))
        atexit.register(self._atexit)
        with _registry_lock:
            _open_stores.add(self)

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ------------------------------------------------------------------------------------------------

    def _migrate(self) -> None:
        conn = _connect(self.db_path)
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("run store: %s is in %s mode, not WAL", self.db_path, mode)
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.db_path} has schema version {version}, newer than this fleetdeck knows "
                        f"({SCHEMA_VERSION}); upgrade fleetdeck or point FLEETDECK_STATE elsewhere"
                    )
                for step in range(version, SCHEMA_VERSION):
                    for statement in _MIGRATIONS[step]:
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()

    @property
    def schema_version(self) -> int:
        """The ``PRAGMA user_version`` of the database."""
        with self._reader() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    # -- paths ---------------------------------------------------------------------------------------------------

    def run_dir(self, run_id: str) -> Path:
        """``runs/<run_id>/`` (the id made file-name safe) where the run's output files go."""
        return self.runs_dir / safe_name(run_id)

    def output_path(self, run_id: str, file_name: str) -> str:
        """The state-dir-relative stem of a host's output files, as stored in ``host_results.output_path``."""
        return f"{RUNS_DIR}/{safe_name(run_id)}/{file_name}"

    # -- writes (queued) -----------------------------------------------------------------------------------------

    def _put(self, item: _Item) -> None:
        if self._closed or not self._writer.alive:
            raise StoreError(f"the run store at {self.state_dir} is closed (or its writer stopped; see the log)")
        self._writer.put(item)

    def _execute(self, sql: str, *params: object) -> None:
        self._put((sql, params))

    def call_in_writer(self, job: Callable[[], None]) -> None:
        """Run ``job`` on the writer thread, in order with the queued writes (for blocking work like fsync)."""
        self._put(job)

    def audit(
        self,
        action: str,
        *,
        user: str = "",
        run_id: str | None = None,
        detail: Mapping[str, object] | None = None,
        when: float | None = None,
    ) -> None:
        """Append to the audit trail (``run_started``, ``run_finished``, ``runs_pruned``, ...)."""
        self._execute(
            "INSERT INTO audit (time, user, action, run_id, detail_json) VALUES (?, ?, ?, ?, ?)",
            time.time() if when is None else when,
            user,
            action,
            run_id,
            _dumps(dict(detail or {})),
        )

    def record_run_started(self, event: RunStarted) -> None:
        """Write the run row (unfinished) and its audit line; the run counts as active in this process."""
        with self._lock:
            self._active[event.run_id] = event.user
        self._execute(
            "INSERT INTO runs (id, task, selector, command, params_json, user, hosts_json, automatic, reason, "
            "started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            event.run_id,
            event.task,
            event.selector,
            event.command,
            _dumps(dict(event.params)),
            event.user,
            _dumps(list(event.hosts)),
            int(event.automatic),
            event.reason,
            event.time,
        )
        self.audit(
            "run_started",
            user=event.user,
            run_id=event.run_id,
            when=event.time,
            detail={
                "task": event.task,
                "selector": event.selector,
                "command": event.command,
                "params": dict(event.params),
                "hosts": len(event.hosts),
                "automatic": event.automatic,
                "reason": event.reason,
            },
        )

    def record_host_result(self, result: HostResultRecord) -> None:
        """Write (or replace) one host's result row."""
        self._execute(
            "INSERT OR REPLACE INTO host_results (run_id, host, status, exit_status, duration_s, error, step, "
            "kill_confirmed, bytes_out, bytes_err, output_path, started, finished) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            result.run_id,
            result.host,
            result.status,
            result.exit_status,
            result.duration_s,
            result.error,
            result.step,
            None if result.kill_confirmed is None else int(result.kill_confirmed),
            result.bytes_out,
            result.bytes_err,
            result.output_path,
            result.started,
            result.finished,
        )

    def record_run_finished(self, event: RunFinished) -> None:
        """Complete the run row and write its audit line; the run is no longer active."""
        with self._lock:
            user = self._active.pop(event.run_id, "")
        self._execute(
            "UPDATE runs SET finished = ?, exit_code = ?, halted = ?, cancelled = ?, counts_json = ? WHERE id = ?",
            event.time,
            event.exit_code,
            int(event.halted),
            int(event.cancelled),
            _dumps(dict(event.counts)),
            event.run_id,
        )
        self.audit(
            "run_finished",
            user=user,
            run_id=event.run_id,
            when=event.time,
            detail={
                "exit_code": event.exit_code,
                "counts": dict(event.counts),
                "duration_s": event.duration_s,
                "halted": event.halted,
                "cancelled": event.cancelled,
            },
        )

    def flush(self) -> None:
        """Block until everything queued so far is committed. Not for the event loop: it waits on disk."""
        self._writer.wait(_Marker())

    def close(self) -> None:
        """Flush, stop the writer thread; runs still unfinished become ``interrupted``. Idempotent."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self._atexit)
        self._writer.wait(_Marker(stop=True))
        self._writer.join()
        with self._lock:
            self._active.clear()
        with _registry_lock:
            _open_stores.discard(self)
        if self._writer.failures:
            log.warning("run store: %d writes failed; see the log above", self._writer.failures)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._closed

    # -- reads ---------------------------------------------------------------------------------------------------

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        conn = _connect(self.db_path)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA query_only = ON")
            yield conn
        finally:
            conn.close()

    def _is_active(self, run_id: str) -> bool:
        with _registry_lock:
            stores = [s for s in _open_stores if s.db_path == self.db_path]
        for store in stores:
            with store._lock:
                if run_id in store._active:
                    return True
        return False

    def _run_from_row(self, row: sqlite3.Row) -> RunRecord:
        halted = bool(row["halted"])
        cancelled = bool(row["cancelled"])
        hosts = json.loads(row["hosts_json"] or "[]")
        counts = {str(k): int(v) for k, v in _loads_dict(row["counts_json"]).items() if isinstance(v, int)}
        return RunRecord(
            id=row["id"],
            task=row["task"],
            selector=row["selector"],
            command=row["command"],
            params=_loads_dict(row["params_json"]),
            user=row["user"],
            hosts=tuple(str(h) for h in hosts) if isinstance(hosts, list) else (),
            automatic=bool(row["automatic"]),
            reason=row["reason"],
            started=float(row["started"]),
            finished=row["finished"],
            exit_code=row["exit_code"],
            halted=halted,
            cancelled=cancelled,
            counts=counts,
            status=run_status(
                finished=row["finished"],
                exit_code=row["exit_code"],
                halted=halted,
                cancelled=cancelled,
                active=row["finished"] is None and self._is_active(row["id"]),
            ),
        )

    def new_run_id(self) -> str:
        """A fresh :func:`new_run_id` that no recorded run, run dir or earlier call of this store uses."""
        while True:
            run_id = new_run_id()
            with self._lock:
                if run_id in self._issued:
                    continue
            if self.run_dir(run_id).exists():
                continue
            with self._reader() as conn:
                if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                    continue
            with self._lock:
                self._issued.add(run_id)
            return run_id

    def list_runs(self, limit: int | None = 50) -> list[RunRecord]:
        """The newest ``limit`` runs (all when ``None``), newest first."""
        with self._reader() as conn:
            rows = conn.execute(
                "SELECT * FROM runs ORDER BY started DESC, id DESC LIMIT ?", (-1 if limit is None else limit,)
            ).fetchall()
        return [self._run_from_row(row) for row in rows]

    def get_run(self, ref: str) -> RunRecord:
        """Find a run by exact id, unique id prefix, ``last`` / ``-1`` (newest), ``-2`` (the one before), ...

        Raises:
            UnknownRunError: Nothing matches, or a prefix matches several runs (they are named).
        """
        ref = ref.strip()
        if not ref:
            raise UnknownRunError(ref, "no run given: use a run id, a unique prefix of one, 'last' or -N")
        back = _RUN_REF.fullmatch(ref)
        with self._reader() as conn:
            if ref == "last" or back is not None:
                n = 1 if back is None else int(back.group(1))
                if n < 1:
                    raise UnknownRunError(ref, f"no run {ref!r}: -1 is the newest run, -2 the one before, ...")
                row = conn.execute(
                    "SELECT * FROM runs ORDER BY started DESC, id DESC LIMIT 1 OFFSET ?", (n - 1,)
                ).fetchone()
                if row is None:
                    total = int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
                    if total == 0:
                        raise UnknownRunError(ref, f"no run {ref!r}: no runs are recorded yet")
                    raise UnknownRunError(ref, f"no run {ref!r}: only {total} run(s) are recorded")
                return self._run_from_row(row)
            row = conn.execute("SELECT * FROM runs WHERE id = ?", (ref,)).fetchone()
            if row is not None:
                return self._run_from_row(row)
            rows = conn.execute(
                "SELECT * FROM runs WHERE substr(id, 1, ?) = ? ORDER BY started DESC, id DESC LIMIT ?",
                (len(ref), ref, _MAX_LISTED + 1),
            ).fetchall()
            if len(rows) == 1:
                return self._run_from_row(rows[0])
            if not rows:
                raise UnknownRunError(ref, f"no run {ref!r}: no run id is or starts with it (see 'fleetdeck history')")
            count = int(
                conn.execute("SELECT count(*) FROM runs WHERE substr(id, 1, ?) = ?", (len(ref), ref)).fetchone()[0]
            )
        candidates = [row["id"] for row in rows[:_MAX_LISTED]]
        more = f", ... ({count - len(candidates)} more)" if count > len(candidates) else ""
        raise UnknownRunError(
            ref,
            f"run {ref!r} is ambiguous: {count} runs start with it: {', '.join(candidates)}{more}; give more of the id",
            candidates,
        )

    def host_results(self, run_ref: str) -> list[HostResultRecord]:
        """The result rows of a run (by id or any ref :meth:`get_run` takes), in the run's host order.

        Hosts that had not finished when a run was cut short have no row.
        """
        run = self.get_run(run_ref)
        return self._host_results(run)

    def _host_results(self, run: RunRecord) -> list[HostResultRecord]:
        with self._reader() as conn:
            rows = conn.execute("SELECT * FROM host_results WHERE run_id = ?", (run.id,)).fetchall()
        order = {host: i for i, host in enumerate(run.hosts)}
        records = [
            HostResultRecord(
                run_id=row["run_id"],
                host=row["host"],
                status=row["status"],
                exit_status=row["exit_status"],
                duration_s=row["duration_s"],
                error=row["error"],
                step=row["step"],
                kill_confirmed=None if row["kill_confirmed"] is None else bool(row["kill_confirmed"]),
                bytes_out=int(row["bytes_out"]),
                bytes_err=int(row["bytes_err"]),
                output_path=row["output_path"],
                started=row["started"],
                finished=row["finished"],
            )
            for row in rows
        ]
        records.sort(key=lambda r: (order.get(r.host, len(order)), r.host))
        return records

    def output_stem(self, run_ref: str, host: str) -> Path:
        """Where a host's output files are (without suffix); works for hosts a crash left without a row.

        Raises:
            UnknownRunError: No such run.
            UnknownRunHostError: The host is not part of the run.
        """
        run = self.get_run(run_ref)
        with self._reader() as conn:
            row = conn.execute(
                "SELECT output_path FROM host_results WHERE run_id = ? AND host = ?", (run.id, host)
            ).fetchone()
        if row is not None:
            return self.state_dir / str(row["output_path"])
        if host not in run.hosts:
            raise UnknownRunHostError(run.id, host, run.hosts)
        return self.state_dir / self.output_path(run.id, assign_file_names(run.hosts)[host])

    def iter_output(self, run_ref: str, host: str) -> Iterator[tuple[Stream, bytes]]:
        """Replay a host's stdout and stderr chunks in the order they arrived, byte for byte.

        Reads from disk as it goes, so any size replays in little memory. A host that printed nothing
        yields nothing.

        Raises:
            UnknownRunError: No such run.
            UnknownRunHostError: The host is not part of the run (the message lists the run's hosts).
        """
        return iter_chunks(self.output_stem(run_ref, host))

    def hosts_with_status(self, run_ref: str, statuses: Collection[str]) -> list[str]:
        """Hosts of a run whose result status is in ``statuses``, in the run's host order (``@last.failed``).

        Hosts without a result (an interrupted or still running run) have the status :data:`UNFINISHED`.
        """
        run = self.get_run(run_ref)
        wanted = set(statuses)
        status = {r.host: r.status for r in self._host_results(run)}
        known = set(run.hosts)
        hosts = list(run.hosts) + [h for h in status if h not in known]
        return [h for h in hosts if status.get(h, UNFINISHED) in wanted]

    def audit_entries(self, run_id: str | None = None, limit: int | None = 100) -> list[AuditEntry]:
        """The newest audit lines (of one run when ``run_id`` is given), newest first."""
        where, params = ("WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
        with self._reader() as conn:
            rows = conn.execute(
                f"SELECT * FROM audit {where} ORDER BY id DESC LIMIT ?", (*params, -1 if limit is None else limit)
            ).fetchall()
        return [
            AuditEntry(
                id=row["id"],
                time=row["time"],
                user=row["user"],
                action=row["action"],
                run_id=row["run_id"],
                detail=_loads_dict(row["detail_json"]),
            )
            for row in rows
        ]

    def prune(self, keep_runs: int, *, user: str = "") -> list[str]:
        """Delete the rows and output dirs of all but the newest ``keep_runs`` runs; return the ids deleted.

        Runs still active in this process are kept whatever their age. The audit trail is kept: it is the
        record of what was done, and it is small.
        """
        if keep_runs < 0:
            raise ValueError(f"keep_runs must be 0 or more, got {keep_runs}")
        with self._reader() as conn:
            rows = conn.execute(
                "SELECT id FROM runs ORDER BY started DESC, id DESC LIMIT -1 OFFSET ?", (keep_runs,)
            ).fetchall()
        victims = [row["id"] for row in rows if not self._is_active(row["id"])]
        if not victims:
            return []
        for run_id in victims:
            self._execute("DELETE FROM host_results WHERE run_id = ?", run_id)
            self._execute("DELETE FROM runs WHERE id = ?", run_id)
        self.audit("runs_pruned", user=user, detail={"deleted": len(victims), "kept": keep_runs})
        self.flush()
        for run_id in victims:
            shutil.rmtree(self.run_dir(run_id), ignore_errors=True)
        return victims
