"""The one background thread that writes to the run store's SQLite database, committing in small batches.

Every write goes through this thread, fed by a large queue, because SQLite calls block and the runner lives on
the asyncio loop. It runs with ``synchronous=NORMAL`` because a lost last commit after a power cut is acceptable
while a slow loop is not. Markers queued behind writes let a caller wait until those writes are committed.
:func:`_connect` opens every connection to the database, readers' included, with the same busy timeout.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from fleetdeck.core.store.records import StoreError

log = logging.getLogger(__name__)

BATCH_SECONDS: Final = 0.05
BATCH_STATEMENTS: Final = 200
QUEUE_SIZE: Final = 100_000
"""Bounded so a wedged disk cannot eat all memory; large so the event loop never waits on it in practice."""


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=True)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


_Statement = tuple[str, tuple[object, ...]]
_Job = Callable[[], None]


class _Marker:
    """Queued behind the writes it waits for; set once they are committed. ``stop`` ends the thread."""

    __slots__ = ("done", "stop")

    def __init__(self, *, stop: bool = False) -> None:
        self.done = threading.Event()
        self.stop = stop


_Item = _Statement | _Job | _Marker


class _Writer:
    """The one thread that writes to the database, committing in small batches."""

    def __init__(self, db_path: Path) -> None:
        self._db_path = db_path
        self._queue: queue.Queue[_Item] = queue.Queue(QUEUE_SIZE)
        self._thread = threading.Thread(target=self._run, name="fleetdeck-store-writer", daemon=True)
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self.failures = 0

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise StoreError(f"cannot open {self._db_path} for writing: {self._startup_error}")

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def put(self, item: _Item) -> None:
        self._queue.put(item)

    def wait(self, marker: _Marker) -> None:
        """Queue ``marker`` and wait until the writes before it are committed (or the thread is gone)."""
        if not self.alive:
            return
        self._queue.put(marker)
        while not marker.done.wait(0.5):
            if not self.alive:
                return

    def join(self) -> None:
        self._thread.join()

    def _run(self) -> None:
        try:
            conn = _connect(self._db_path)
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException as exc:  # reported by start() on the caller's thread
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            stopping = False
            while not stopping:
                stopping = self._apply(conn, self._take_batch())
        except BaseException:
            log.exception("run store writer stopped unexpectedly")
        finally:
            conn.close()
            self._release_waiters()

    def _take_batch(self) -> list[_Item]:
        first = self._queue.get()
        batch = [first]
        if isinstance(first, _Marker):
            return batch
        deadline = time.monotonic() + BATCH_SECONDS
        while len(batch) < BATCH_STATEMENTS:
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            batch.append(item)
            if isinstance(item, _Marker):
                break
        return batch

    def _apply(self, conn: sqlite3.Connection, batch: list[_Item]) -> bool:
        markers: list[_Marker] = []
        stop = False
        try:
            conn.execute("BEGIN")
        except sqlite3.Error:  # go on statement by statement; jobs (closing files) must run regardless
            self.failures += 1
            log.exception("run store: cannot begin a transaction")
        for item in batch:
            if isinstance(item, _Marker):
                markers.append(item)
                stop = stop or item.stop
            elif isinstance(item, tuple):
                sql, params = item
                try:
                    conn.execute(sql, params)
                except sqlite3.Error:
                    self.failures += 1
                    log.exception("run store: statement failed: %s", sql.split("(")[0].strip())
            else:
                try:
                    item()
                except Exception:
                    self.failures += 1
                    log.exception("run store: background job failed")
        try:
            if conn.in_transaction:
                conn.execute("COMMIT")
        except sqlite3.Error:
            self.failures += 1
            log.exception("run store: commit failed; %d queued writes lost", len(batch) - len(markers))
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        for marker in markers:
            marker.done.set()
        return stop

    def _release_waiters(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Marker):
                item.done.set()
