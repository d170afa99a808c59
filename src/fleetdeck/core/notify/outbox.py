"""The persistent outbox: every notification is a row in ``notify.db`` before anything is sent.

The database lives in the state dir beside ``fleetdeck.db`` and, like it, uses WAL with ``synchronous=NORMAL``:
a commit survives the process being killed, and only a power cut may lose the last one. It holds the grouping
state (so a restart loses no notice still inside its ``group_wait``) and one row per message per channel with
its delivery state. Rows name the channel and hold a channel-agnostic message, never a URL, token or signature.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from fleetdeck.core.errors import FleetdeckError
from fleetdeck.core.notify.grouping import Group
from fleetdeck.core.notify.message import Message
from fleetdeck.core.store.output_files import make_private_dir

DB_NAME: Final = "notify.db"
SCHEMA_VERSION: Final = 1

ItemState = Literal["pending", "delivered", "failed", "folded"]

_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            group_key TEXT NOT NULL,
            message_json TEXT NOT NULL,
            transaction_id INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            created REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt REAL NOT NULL,
            last_attempt REAL,
            last_error TEXT,
            delivered REAL,
            folded_into INTEGER
        )""",
        "CREATE INDEX outbox_by_state ON outbox (state, channel, next_attempt)",
        "CREATE TABLE groups (key TEXT PRIMARY KEY, data_json TEXT NOT NULL)",
    ),
)
"""Schema steps; step ``i`` takes ``user_version`` from ``i`` to ``i + 1``. Append, never edit."""


class OutboxError(FleetdeckError):
    """The outbox cannot be used (a database from a newer fleetdeck, or it is closed)."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One row of the outbox: a message for one channel and how its delivery is going."""

    id: int
    channel: str
    group_key: str
    message: Message
    transaction_id: int
    state: ItemState
    created: float
    attempts: int
    next_attempt: float
    last_attempt: float | None
    last_error: str | None
    delivered: float | None
    folded_into: int | None


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def new_transaction_id() -> int:
    """A random positive 63-bit id, fixed per row and sent on every attempt so a receiver can drop repeats.

    Random rather than the row id, so two state dirs sending to one Lanying app never collide; 63 bits
    because Lanying's ``transaction_id`` is an int64.
    """
    return secrets.randbits(62) + 1


class Outbox:
    """``<state_dir>/notify.db``: table ``groups`` (grouping state) and table ``outbox`` (one row per message).

    A row is ``pending``, ``delivered``, ``failed`` or ``folded`` into a digest, with its attempt count, next
    attempt time, last error and delivery time. A group flush writes the groups' new state and their rows in one
    transaction, and a digest is written with the marks on the rows it folds, so neither happens twice or half.
    Calls block on disk (the notifier runs them on one worker thread); they are thread-safe.
    """

    def __init__(self, state_dir: Path) -> None:
        """Create the state dir (0700) and database (0600) if needed and bring its schema up to date."""
        self.state_dir = Path(state_dir)
        self.db_path = self.state_dir / DB_NAME
        make_private_dir(self.state_dir)
        if not self.db_path.exists():
            os.close(os.open(self.db_path, os.O_RDWR | os.O_CREAT, 0o600))
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA busy_timeout = 30000")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._migrate()

    def _migrate(self) -> None:
        with self._tx() as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise OutboxError(
                    f"{self.db_path} has schema version {version}, newer than this fleetdeck knows ({SCHEMA_VERSION})"
                )
            for step in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step]:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken under the lock (``BEGIN IMMEDIATE`` so it never deadlocks on upgrade)."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (checkpointing the WAL). Idempotent."""
        with self._lock:
            self._conn.close()

    # -- groups ------------------------------------------------------------------------------------------------

    @staticmethod
    def _save_group(conn: sqlite3.Connection, group: Group, live: bool) -> None:
        if live:
            conn.execute(
                "INSERT OR REPLACE INTO groups (key, data_json) VALUES (?, ?)", (group.key, _dumps(group.to_json()))
            )
        else:
            conn.execute("DELETE FROM groups WHERE key = ?", (group.key,))

    def save_groups(self, groups: Iterable[tuple[Group, bool]]) -> None:
        """Write groups (``live``) or delete them (not live), all in one transaction."""
        with self._tx() as conn:
            for group, live in groups:
                self._save_group(conn, group, live)

    def load_groups(self) -> list[Group]:
        """Every saved group."""
        with self._lock:
            rows = self._conn.execute("SELECT data_json FROM groups ORDER BY key").fetchall()
        return [Group.from_json(json.loads(row["data_json"])) for row in rows]

    # -- outbox rows ---------------------------------------------------------------------------------------------

    @staticmethod
    def _insert(conn: sqlite3.Connection, channel: str, message: Message, now: float) -> int:
        cursor = conn.execute(
            "INSERT INTO outbox (channel, group_key, message_json, transaction_id, created, next_attempt) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (channel, message.group_key, _dumps(message.to_json()), new_transaction_id(), now, now),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _get(self, conn: sqlite3.Connection, ids: Sequence[int]) -> list[OutboxItem]:
        marks = ",".join("?" * len(ids))
        rows = conn.execute(f"SELECT * FROM outbox WHERE id IN ({marks}) ORDER BY id", tuple(ids)).fetchall()
        return [_item(row) for row in rows]

    def flush_groups(
        self, flushed: Sequence[tuple[Group, bool, Sequence[tuple[str, Message]]]], now: float
    ) -> list[OutboxItem]:
        """Save flushed groups (``live`` or deleted) and insert their messages as pending rows, in one transaction."""
        with self._tx() as conn:
            ids: list[int] = []
            for group, live, messages in flushed:
                self._save_group(conn, group, live)
                ids += [self._insert(conn, channel, message, now) for channel, message in messages]
            return self._get(conn, ids) if ids else []

    def fold(self, channel: str, ids: Sequence[int], digest: Message, now: float) -> OutboxItem:
        """Insert ``digest`` as a pending row and mark the rows it replaces ``folded``, in one transaction."""
        with self._tx() as conn:
            digest_id = self._insert(conn, channel, digest, now)
            marks = ",".join("?" * len(ids))
            conn.execute(
                f"UPDATE outbox SET state = 'folded', folded_into = ? WHERE id IN ({marks}) AND state = 'pending'",
                (digest_id, *ids),
            )
            return self._get(conn, [digest_id])[0]

    def record_attempt(self, item_id: int, now: float) -> None:
        """Count an attempt before the request leaves, so a crash mid-send is visible as an attempt."""
        with self._tx() as conn:
            conn.execute("UPDATE outbox SET attempts = attempts + 1, last_attempt = ? WHERE id = ?", (now, item_id))

    def mark_delivered(self, item_id: int, now: float) -> None:
        """The receiver accepted the row; rows folded into it are delivered with it."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE outbox SET state = 'delivered', delivered = ?, last_error = NULL WHERE id = ?", (now, item_id)
            )
            conn.execute("UPDATE outbox SET delivered = ? WHERE folded_into = ?", (now, item_id))

    def mark_retry(self, item_id: int, next_attempt: float, error: str) -> None:
        """Not delivered yet; try again at ``next_attempt``."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE outbox SET next_attempt = ?, last_error = ? WHERE id = ?", (next_attempt, error, item_id)
            )

    def mark_failed(self, item_id: int, error: str) -> None:
        """Given up: a permanent error, or too old."""
        with self._tx() as conn:
            conn.execute("UPDATE outbox SET state = 'failed', last_error = ? WHERE id = ?", (error, item_id))

    def pending(self) -> list[OutboxItem]:
        """Every row still to deliver, oldest first (what a restart resumes)."""
        return self.items("pending")

    def items(self, state: ItemState | None = None, channel: str | None = None) -> list[OutboxItem]:
        """Rows, optionally of one state and channel, oldest first."""
        where: list[str] = []
        params: list[str] = []
        if state is not None:
            where.append("state = ?")
            params.append(state)
        if channel is not None:
            where.append("channel = ?")
            params.append(channel)
        sql = "SELECT * FROM outbox" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id"
        with self._lock:
            rows = self._conn.execute(sql, tuple(params)).fetchall()
        return [_item(row) for row in rows]

    def attempt_times(self, channel: str, since: float) -> list[float]:
        """When requests to a channel last went out, for seeding its rate limiter after a restart."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT last_attempt FROM outbox WHERE channel = ? AND last_attempt > ?", (channel, since)
            ).fetchall()
        return [float(row[0]) for row in rows]

    def prune(self, before: float) -> int:
        """Delete finished rows (delivered, folded into a delivered digest, failed) older than ``before``."""
        with self._tx() as conn:
            cursor = conn.execute(
                "DELETE FROM outbox WHERE (state IN ('delivered', 'folded') AND delivered < ?)"
                " OR (state = 'failed' AND COALESCE(last_attempt, created) < ?)",
                (before, before),
            )
            return cursor.rowcount


def _item(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(
        id=int(row["id"]),
        channel=row["channel"],
        group_key=row["group_key"],
        message=Message.from_json(json.loads(row["message_json"])),
        transaction_id=int(row["transaction_id"]),
        state=row["state"],
        created=float(row["created"]),
        attempts=int(row["attempts"]),
        next_attempt=float(row["next_attempt"]),
        last_attempt=row["last_attempt"],
        last_error=row["last_error"],
        delivered=row["delivered"],
        folded_into=row["folded_into"],
    )


def read_outbox(state_dir: Path, state: ItemState | None = None) -> list[OutboxItem]:
    """The outbox rows of a state dir (for status commands and tests); empty when there is no outbox yet."""
    if not (Path(state_dir) / DB_NAME).exists():
        return []
    box = Outbox(state_dir)
    try:
        return box.items(state)
    finally:
        box.close()
