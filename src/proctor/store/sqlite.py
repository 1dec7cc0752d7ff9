"""The default store: one SQLite file in WAL mode, written from a single worker thread.

sqlite3 blocks, so every call runs on one dedicated thread (a connection belongs to one
thread); the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from msgspec.structs import astuple

from proctor.keys.record import KeyRecord
from proctor.keys.rows import KEY_COLUMNS, key_from_row, key_row, pick_key, revoked
from proctor.store.migrations import MIGRATIONS
from proctor.store.records import (
    COLUMNS,
    EVENT_COLUMNS,
    FEEDBACK_COLUMNS,
    EventRecord,
    FeedbackRecord,
    Record,
    RequestRecord,
)
from proctor.store.review import SQLiteReviews
from proctor.store.spans import SPAN_COLUMNS, SpanRecord

T = TypeVar("T")


def _insert(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    return f"INSERT OR REPLACE INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)})"


_INSERT = _insert("requests", COLUMNS)
_INSERT_EVENT = _insert("events", EVENT_COLUMNS)
_INSERT_SPAN = _insert("spans", SPAN_COLUMNS)
# INSERT OR REPLACE on (request_id, channel): a second rating replaces the first.
_INSERT_FEEDBACK = _insert("feedback", FEEDBACK_COLUMNS)
_TOPIC_COLUMNS = ("id", "label", "created_at", "count", "embedder", "centroid")
_INSERT_TOPIC = _insert("topics", _TOPIC_COLUMNS)
_INSERT_ASSIGNMENT = _insert("topic_assignments", ("request_id", "topic_id", "at"))
# Plain INSERT: a key id or secret hash that already exists is an error, never a replacement.
_KEY_NAMES = ", ".join(f'"{c}"' for c in KEY_COLUMNS)
_INSERT_KEY = f"INSERT INTO keys ({_KEY_NAMES}) VALUES ({', '.join('?' for _ in KEY_COLUMNS)})"


def path_of(url: str) -> str:
    """sqlite:///relative.db, sqlite:////absolute.db, or sqlite:///:memory:."""
    path = url.removeprefix("sqlite://").removeprefix("/")
    return path or ":memory:"


class SQLiteStore(SQLiteReviews):  # ReviewStore's methods live in store/review.py
    def __init__(self, url: str) -> None:
        self.path = path_of(url)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="proctor-sqlite")
        self._db: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._with_db, fn)

    def _with_db(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._db is None:
            raise RuntimeError("store is not open")
        return fn(self._db)

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._open)

    def _open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        migrate(db)
        self._db = db

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def write_batch(self, records: Sequence[Record]) -> None:
        # COLUMNS are the structs' own fields, in order: astuple is the row, built in C.
        rows = [astuple(r) for r in records if isinstance(r, RequestRecord)]
        events = [astuple(r) for r in records if isinstance(r, EventRecord)]
        feedback = [astuple(r) for r in records if isinstance(r, FeedbackRecord)]

        def write(db: sqlite3.Connection) -> None:
            with db:  # one transaction per batch: group commit
                db.execute("BEGIN")
                if rows:
                    db.executemany(_INSERT, rows)
                if events:
                    db.executemany(_INSERT_EVENT, events)
                if feedback:
                    db.executemany(_INSERT_FEEDBACK, feedback)

        await self._run(write)

    async def get_request(self, request_id: str) -> dict[str, Any] | None:
        def get(db: sqlite3.Connection) -> dict[str, Any] | None:
            row = db.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
            return dict(row) if row else None

        return await self._run(get)

    async def recent_requests(self, limit: int = 50) -> list[dict[str, Any]]:
        def recent(db: sqlite3.Connection) -> list[dict[str, Any]]:
            cursor = db.execute("SELECT * FROM requests ORDER BY started_at DESC LIMIT ?", (limit,))
            return [dict(row) for row in cursor.fetchall()]

        return await self._run(recent)

    async def recent_events(self, limit: int = 50, kind: str | None = None) -> list[dict[str, Any]]:
        def recent(db: sqlite3.Connection) -> list[dict[str, Any]]:
            if kind is None:
                cursor = db.execute("SELECT * FROM events ORDER BY at DESC LIMIT ?", (limit,))
            else:
                cursor = db.execute(
                    "SELECT * FROM events WHERE kind = ? ORDER BY at DESC LIMIT ?", (kind, limit)
                )
            return [dict(row) for row in cursor.fetchall()]

        return await self._run(recent)

    async def count_requests(self) -> int:
        def count(db: sqlite3.Connection) -> int:
            return int(db.execute("SELECT COUNT(*) FROM requests").fetchone()[0])

        return await self._run(count)

    paramstyle = "qmark"  # SpendStore: sqlite3 takes ? placeholders

    async def read_rows(
        self, statements: Sequence[tuple[str, Sequence[object]]]
    ) -> list[list[dict[str, Any]]]:
        def read(db: sqlite3.Connection) -> list[list[dict[str, Any]]]:
            # query_only makes SQLite itself refuse any write, whatever the statement text;
            # it is safe to toggle because this connection is used from this one thread.
            db.execute("PRAGMA query_only = ON")
            try:
                with db:  # one read transaction: every statement sees the same snapshot
                    db.execute("BEGIN")
                    return [
                        [dict(row) for row in db.execute(sql, tuple(params))]
                        for sql, params in statements
                    ]
            finally:
                db.execute("PRAGMA query_only = OFF")

        return await self._run(read)

    async def ensure_secret(self, name: str, candidate: str) -> str:
        """FeedbackStore: written once, at start, never on a request."""

        def ensure(db: sqlite3.Connection) -> str:
            with db:
                db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "INSERT INTO gateway_secrets (name, value, created_at) "
                    "VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                    (name, candidate, time.time()),
                )
                row = db.execute("SELECT value FROM gateway_secrets WHERE name = ?", (name,))
                return str(row.fetchone()[0])

        return await self._run(ensure)

    # TraceStore. Spans come in batches from the tracer, one transaction per batch.

    async def write_spans(self, spans: Sequence[SpanRecord]) -> None:
        rows = [astuple(span) for span in spans]

        def write(db: sqlite3.Connection) -> None:
            with db:
                db.execute("BEGIN")
                db.executemany(_INSERT_SPAN, rows)

        await self._run(write)

    async def get_trace(self, trace_id: str) -> list[dict[str, Any]]:
        def get(db: sqlite3.Connection) -> list[dict[str, Any]]:
            cursor = db.execute(
                "SELECT * FROM spans WHERE trace_id = ? ORDER BY start_ns, end_ns DESC",
                (trace_id,),
            )
            return [dict(row) for row in cursor.fetchall()]

        return await self._run(get)

    async def find_traces(
        self, *, session: str | None = None, request_id: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        where, params = "request_id IS NOT NULL", []
        if session is not None:
            where, params = "session = ?", [session]
        if request_id is not None:
            where += " AND request_id = ?"
            params.append(request_id)

        def find(db: sqlite3.Connection) -> list[dict[str, Any]]:
            cursor = db.execute(
                f"SELECT * FROM spans WHERE {where} ORDER BY start_ns DESC LIMIT ?",
                (*params, limit),
            )
            return [dict(row) for row in cursor.fetchall()]

        return await self._run(find)

    # TopicStore. One transaction per batch from the topics task.

    async def write_topics(
        self,
        topics: Sequence[dict[str, Any]],
        assignments: Sequence[tuple[str, str, float]],
        merged: Sequence[tuple[str, str]] = (),
    ) -> None:
        rows = [tuple(t[c] for c in _TOPIC_COLUMNS) for t in topics]

        def write(db: sqlite3.Connection) -> None:
            with db:
                db.execute("BEGIN")
                if rows:
                    db.executemany(_INSERT_TOPIC, rows)
                if assignments:
                    db.executemany(_INSERT_ASSIGNMENT, assignments)
                for gone, into in merged:
                    db.execute(
                        "UPDATE topic_assignments SET topic_id = ? WHERE topic_id = ?", (into, gone)
                    )
                    db.execute("DELETE FROM topics WHERE id = ?", (gone,))

        await self._run(write)

    async def load_topics(self) -> list[dict[str, Any]]:
        def load(db: sqlite3.Connection) -> list[dict[str, Any]]:
            cursor = db.execute("SELECT * FROM topics ORDER BY created_at, id")
            return [dict(row) for row in cursor.fetchall()]

        return await self._run(load)

    # KeyStore. Key writes are rare and administrative: direct, each its own transaction.

    async def create_key(self, record: KeyRecord) -> None:
        row = key_row(record)

        def create(db: sqlite3.Connection) -> None:
            with db:
                db.execute("BEGIN")
                db.execute(_INSERT_KEY, row)

        await self._run(create)

    async def list_keys(self, include_revoked: bool = False) -> list[KeyRecord]:
        where = "" if include_revoked else " WHERE revoked_at IS NULL"

        def select(db: sqlite3.Connection) -> list[KeyRecord]:
            cursor = db.execute(f"SELECT * FROM keys{where} ORDER BY created_at, id")
            return [key_from_row(row) for row in cursor.fetchall()]

        return await self._run(select)

    async def all_keys(self) -> list[KeyRecord]:
        return await self.list_keys(include_revoked=True)

    async def revoke_key(self, id_or_prefix: str) -> KeyRecord:
        def revoke(db: sqlite3.Connection) -> KeyRecord:
            with db:
                # IMMEDIATE: take the write lock before reading, so that the key cannot be
                # revoked by another process between the read and the update.
                db.execute("BEGIN IMMEDIATE")
                cursor = db.execute(
                    "SELECT * FROM keys WHERE id = ? OR prefix = ?", (id_or_prefix, id_or_prefix)
                )
                record = pick_key([key_from_row(row) for row in cursor], id_or_prefix)
                if record.revoked_at is None:
                    record = revoked(record)
                    db.execute(
                        "UPDATE keys SET revoked_at = ? WHERE id = ?",
                        (record.revoked_at, record.id),
                    )
                return record

        return await self._run(revoke)


def migrate(db: sqlite3.Connection) -> list[int]:
    """Apply the migrations this database has not seen; returns the numbers applied."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT number FROM schema_migrations")}
    applied = []
    for migration in MIGRATIONS:
        if migration.number in done:
            continue
        with db:
            db.execute("BEGIN")
            for statement in migration.statements:
                db.execute(statement)
            db.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, datetime('now'))",
                (migration.number, migration.name),
            )
        applied.append(migration.number)
    return applied
