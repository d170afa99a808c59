"""Alert states, silences and acknowledgements in SQLite, shared by the daemon, the console and the CLI.

``alerts.db`` lives in the state dir next to ``fleetdeck.db``. It uses WAL so ``fleetdeck alerts`` in one
process reads while the daemon writes in another, and ``synchronous=NORMAL`` since losing the last
save after a power cut only means the next sample recreates it. Unlike the run store there is no
writer thread: writes are a handful of rows when something changes, done in one short transaction.
One process owns the alert states (it calls :meth:`AlertStore.save`, which replaces the stored set);
any process may add silences and acknowledgements, which the owner notices through :meth:`changed`.
Reads recompute ``silenced`` from the silences in force, so a silence added a second ago shows at once.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Self

from fleetdeck.core.alerts.silences import Matcher, Silence, is_silenced, parse_matcher
from fleetdeck.core.alerts.state import AlertRecord, UnknownAlertError, match_labels
from fleetdeck.core.errors import FleetdeckError, UsageError

DB_NAME: Final = "alerts.db"
SCHEMA_VERSION: Final = 2
EXPIRED_SILENCES_KEPT_S: Final = 30 * 86400.0
"""Expired silences stay listable (``silence list --all``) this long, then are pruned."""

_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE alerts (
            key TEXT PRIMARY KEY,
            rule TEXT NOT NULL,
            host TEXT NOT NULL,
            mount TEXT,
            state TEXT NOT NULL,
            severity TEXT NOT NULL,
            value REAL,
            labels_json TEXT NOT NULL DEFAULT '{}',
            annotations_json TEXT NOT NULL DEFAULT '{}',
            since REAL NOT NULL,
            active_since REAL NOT NULL,
            fired_at REAL,
            silenced INTEGER NOT NULL DEFAULT 0,
            flapping INTEGER NOT NULL DEFAULT 0,
            inhibited INTEGER NOT NULL DEFAULT 0,
            acknowledged_by TEXT,
            acknowledged_at REAL,
            updated REAL NOT NULL
        )""",
        """CREATE TABLE silences (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            matchers_json TEXT NOT NULL,
            starts REAL NOT NULL,
            ends REAL NOT NULL,
            reason TEXT NOT NULL,
            creator TEXT NOT NULL
        )""",
        "CREATE INDEX silences_by_end ON silences (ends)",
    ),
    ("ALTER TABLE alerts ADD COLUMN inhibited_by TEXT",),
)
"""Schema steps; step ``i`` takes ``user_version`` from ``i`` to ``i + 1``. Append, never edit."""

_COLUMNS: Final = (
    "key, rule, host, mount, state, severity, value, labels_json, annotations_json, since, active_since, "
    "fired_at, silenced, flapping, inhibited, acknowledged_by, acknowledged_at, updated, inhibited_by"
)
_UPSERT: Final = f"""
    INSERT INTO alerts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(key) DO UPDATE SET
        rule = excluded.rule, host = excluded.host, mount = excluded.mount, state = excluded.state,
        severity = excluded.severity, value = excluded.value, labels_json = excluded.labels_json,
        annotations_json = excluded.annotations_json, since = excluded.since,
        active_since = excluded.active_since, fired_at = excluded.fired_at, silenced = excluded.silenced,
        flapping = excluded.flapping, inhibited = excluded.inhibited, updated = excluded.updated,
        inhibited_by = excluded.inhibited_by,
        acknowledged_by = CASE WHEN excluded.state = 'firing' AND alerts.fired_at IS excluded.fired_at
            THEN COALESCE(excluded.acknowledged_by, alerts.acknowledged_by) ELSE excluded.acknowledged_by END,
        acknowledged_at = CASE WHEN excluded.state = 'firing' AND alerts.fired_at IS excluded.fired_at
            THEN COALESCE(excluded.acknowledged_at, alerts.acknowledged_at) ELSE excluded.acknowledged_at END
"""
"""An acknowledgement made by another process survives the owner's saves for the same firing episode."""


class AlertStoreError(FleetdeckError):
    """The alert store cannot be used (a database from a newer fleetdeck)."""


class UnknownSilenceError(UsageError, KeyError):
    """No silence has the given id."""

    def __str__(self) -> str:
        return str(self.args[0])


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _loads_str_dict(text: str | None) -> dict[str, str]:
    value = json.loads(text) if text else {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


class AlertStore:
    """``<state_dir>/alerts.db``: current alerts, silences and acknowledgements; thread-safe, a context manager."""

    def __init__(self, state_dir: Path, *, busy_timeout_s: float = 5.0) -> None:
        """Create the state dir (0700) and database (0600) if needed and migrate it."""
        self.state_dir = Path(state_dir)
        self.db_path = self.state_dir / DB_NAME
        if not self.state_dir.is_dir():
            self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.state_dir.chmod(0o700)
        if not self.db_path.exists():
            os.close(os.open(self.db_path, os.O_RDWR | os.O_CREAT, 0o600))  # SQLite gives -wal/-shm this mode
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            self.db_path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000):d}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._migrate()
        self._data_version = self._read_data_version()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; idempotent."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction: other writers wait on the busy timeout instead of failing midway."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, tuple(params)))

    def _migrate(self) -> None:
        """Bring the schema up to date and prune old silences, writing only when there is something to do.

        Opening a store must not look like news to the owner's :meth:`changed`, so a current database is
        only read.
        """
        version = int(self._read("PRAGMA user_version")[0][0])
        if version > SCHEMA_VERSION:
            raise AlertStoreError(
                f"{self.db_path} has schema version {version}, newer than this fleetdeck knows "
                f"({SCHEMA_VERSION}); upgrade fleetdeck or point FLEETDECK_STATE elsewhere"
            )
        if version < SCHEMA_VERSION:
            with self._write() as conn:
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])  # another process may have won
                for step in range(version, SCHEMA_VERSION):
                    for statement in _MIGRATIONS[step]:
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
        cutoff = time.time() - EXPIRED_SILENCES_KEPT_S
        if self._read("SELECT 1 FROM silences WHERE ends < ? LIMIT 1", (cutoff,)):
            with self._write() as conn:
                conn.execute("DELETE FROM silences WHERE ends < ?", (cutoff,))

    def _read_data_version(self) -> int:
        return int(self._read("PRAGMA data_version")[0][0])

    def changed(self) -> bool:
        """Whether another connection (another process) committed since the last call: time to re-read."""
        version = self._read_data_version()
        changed, self._data_version = version != self._data_version, version
        return changed

    # -- alerts --------------------------------------------------------------------------------------------------

    def save(self, records: Iterable[AlertRecord]) -> None:
        """Make the stored alerts exactly ``records`` (the owner's pending and firing alerts)."""
        rows = [
            (
                r.key, r.rule, r.host, r.mount, r.state, r.severity, r.value, _dumps(dict(r.labels)),
                _dumps(dict(r.annotations)), r.since, r.active_since, r.fired_at, int(r.silenced), int(r.flapping),
                int(r.inhibited), r.acknowledged_by, r.acknowledged_at, r.updated, r.inhibited_by,
            )
            for r in records
        ]  # fmt: skip
        keep = {row[0] for row in rows}
        with self._write() as conn:
            gone = [row[0] for row in conn.execute("SELECT key FROM alerts") if row[0] not in keep]
            conn.executemany("DELETE FROM alerts WHERE key = ?", [(key,) for key in gone])
            conn.executemany(_UPSERT, rows)

    def active(self, now: float | None = None) -> list[AlertRecord]:
        """Stored pending and firing alerts, firing and critical first, ``silenced`` as of ``now``."""
        now = time.time() if now is None else now
        silences = self.silences(now)
        records = [self._record(row, silences, now) for row in self._read(f"SELECT {_COLUMNS} FROM alerts")]
        return sorted(records, key=AlertRecord.sort_key)

    def get(self, key: str, now: float | None = None) -> AlertRecord | None:
        """One stored alert by key."""
        now = time.time() if now is None else now
        rows = self._read(f"SELECT {_COLUMNS} FROM alerts WHERE key = ?", (key,))
        return self._record(rows[0], self.silences(now), now) if rows else None

    def acknowledge(self, key: str, by: str, now: float | None = None) -> AlertRecord:
        """Mark a firing alert acknowledged by ``by``; the owner picks it up on its next :meth:`changed`.

        Raises:
            UnknownAlertError: when no stored alert with that key is firing.
        """
        now = time.time() if now is None else now
        with self._write() as conn:
            done = conn.execute(
                "UPDATE alerts SET acknowledged_by = ?, acknowledged_at = ? WHERE key = ? AND state = 'firing'",
                (by, now, key),
            ).rowcount
        if not done:
            firing = [row[0] for row in self._read("SELECT key FROM alerts WHERE state = 'firing' ORDER BY key")]
            raise UnknownAlertError(key, firing)
        found = self.get(key, now)
        assert found is not None
        return found

    @staticmethod
    def _record(row: sqlite3.Row, silences: Sequence[Silence], now: float) -> AlertRecord:
        labels = _loads_str_dict(row["labels_json"])
        return AlertRecord(
            key=row["key"],
            rule=row["rule"],
            host=row["host"],
            mount=row["mount"],
            state="firing" if row["state"] == "firing" else "pending",
            severity="critical" if row["severity"] == "critical" else "warning",
            value=row["value"],
            labels=labels,
            annotations=_loads_str_dict(row["annotations_json"]),
            since=row["since"],
            active_since=row["active_since"],
            fired_at=row["fired_at"],
            silenced=is_silenced(match_labels(labels), silences, now),
            acknowledged_by=row["acknowledged_by"],
            acknowledged_at=row["acknowledged_at"],
            flapping=bool(row["flapping"]),
            inhibited=bool(row["inhibited"]),
            updated=row["updated"],
            inhibited_by=row["inhibited_by"],
        )

    # -- silences ------------------------------------------------------------------------------------------------

    def silences(self, now: float | None = None, *, include_expired: bool = False) -> list[Silence]:
        """Silences in force at ``now`` (all kept ones with ``include_expired``), oldest first."""
        now = time.time() if now is None else now
        if include_expired:
            rows = self._read("SELECT * FROM silences ORDER BY id")
        else:
            rows = self._read("SELECT * FROM silences WHERE ends > ? ORDER BY id", (now,))
        return [_silence(row) for row in rows]

    def add_silence(
        self,
        matchers: Sequence[Matcher],
        *,
        duration_s: float,
        reason: str,
        creator: str,
        now: float | None = None,
    ) -> Silence:
        """Store a silence from ``now`` for ``duration_s`` seconds and return it with its id.

        Raises:
            UsageError: without matchers, with a duration that is not positive, or without a reason.
        """
        now = time.time() if now is None else now
        if not matchers:
            raise UsageError("a silence needs at least one matcher")
        if duration_s <= 0:
            raise UsageError("a silence needs a duration greater than 0")
        if not reason.strip():
            raise UsageError("a silence needs a reason, for whoever is on call next")
        encoded = _dumps([str(m) for m in matchers])
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO silences (matchers_json, starts, ends, reason, creator) VALUES (?, ?, ?, ?, ?)",
                (encoded, now, now + duration_s, reason.strip(), creator),
            )
            silence_id = int(cursor.lastrowid or 0)
        return Silence(silence_id, tuple(matchers), now, now + duration_s, reason.strip(), creator)

    def expire_silence(self, silence_id: int, now: float | None = None) -> Silence:
        """End a silence now (an already ended one is returned unchanged).

        Raises:
            UnknownSilenceError: when no silence has that id.
        """
        now = time.time() if now is None else now
        with self._write() as conn:
            conn.execute("UPDATE silences SET ends = ? WHERE id = ? AND ends > ?", (now, silence_id, now))
            row = conn.execute("SELECT * FROM silences WHERE id = ?", (silence_id,)).fetchone()
        if row is None:
            active = ", ".join(str(s.id) for s in self.silences(now)) or "none"
            raise UnknownSilenceError(f"no silence {silence_id}; silences in force: {active}")
        return _silence(row)


def _silence(row: Any) -> Silence:
    matchers = tuple(parse_matcher(text) for text in json.loads(row["matchers_json"]))
    return Silence(row["id"], matchers, row["starts"], row["ends"], row["reason"], row["creator"])
