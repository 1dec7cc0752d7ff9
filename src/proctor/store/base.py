"""Narrow storage protocols; each backend implements the ones it supports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from proctor.keys.record import KeyRecord
from proctor.store.records import Record
from proctor.store.spans import SpanRecord


class RequestLog(Protocol):
    """Where request records go. Writes arrive in batches from the background writer."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def write_batch(self, records: Sequence[Record]) -> None: ...

    async def get_request(self, request_id: str) -> dict[str, Any] | None: ...

    async def recent_requests(self, limit: int = 50) -> list[dict[str, Any]]: ...

    async def recent_events(
        self, limit: int = 50, kind: str | None = None
    ) -> list[dict[str, Any]]: ...

    async def count_requests(self) -> int: ...


@runtime_checkable
class SpendStore(Protocol):
    """Runs the read-only aggregate statements that proctor.spend builds over the request log.

    `paramstyle` tells the builder which placeholders the driver takes ("qmark", "format",
    or "dollar" for $1-numbered). All statements of one call see the same snapshot, so a
    report's totals, groups and series agree with each other.
    """

    paramstyle: str

    async def read_rows(
        self, statements: Sequence[tuple[str, Sequence[object]]]
    ) -> list[list[dict[str, Any]]]: ...


@runtime_checkable
class KeyStore(Protocol):
    """Virtual keys. Writes are administrative (CLI, admin API), so they are direct, not batched.

    Keys are never deleted, and a key's fields never change except `revoked_at`, once.
    """

    async def create_key(self, record: KeyRecord) -> None: ...

    async def list_keys(self, include_revoked: bool = False) -> list[KeyRecord]: ...

    async def all_keys(self) -> list[KeyRecord]:
        """Every key, revoked ones included: what the gateway's keyring holds."""
        ...

    async def revoke_key(self, id_or_prefix: str) -> KeyRecord:
        """The key, revoked (already revoked: unchanged); KeyNotFound, or AmbiguousKey when a
        prefix matches several keys."""
        ...


@runtime_checkable
class FeedbackStore(Protocol):
    """User feedback. Ratings arrive through `write_batch` (FeedbackRecord), never directly;
    reports are read-only statements run like the spend report's; and the one secret every
    replica must share to sign feedback tokens is kept here.
    """

    paramstyle: str

    async def get_request(self, request_id: str) -> dict[str, Any] | None: ...

    async def read_rows(
        self, statements: Sequence[tuple[str, Sequence[object]]]
    ) -> list[list[dict[str, Any]]]: ...

    async def ensure_secret(self, name: str, candidate: str) -> str:
        """The value stored under `name`; when there is none yet, `candidate` is stored and
        returned. Atomic across processes: the first writer wins, later ones read its value."""
        ...


@runtime_checkable
class TraceStore(Protocol):
    """Trace spans. Written in batches by the tracer after requests finish, never on a request's
    path; read by the admin API and the dashboard."""

    async def write_spans(self, spans: Sequence[SpanRecord]) -> None: ...

    async def get_trace(self, trace_id: str) -> list[dict[str, Any]]:
        """Every stored span of the trace, in start order."""
        ...

    async def find_traces(
        self, *, session: str | None = None, request_id: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Root spans (one per request), newest first, optionally of one session or request."""
        ...


@runtime_checkable
class TopicStore(Protocol):
    """Query topics (proctor.topics): written in batches by its background task, never on a
    request's path. Topic rows are dicts with the `topics` table's columns."""

    async def write_topics(
        self,
        topics: Sequence[dict[str, Any]],
        assignments: Sequence[tuple[str, str, float]],
        merged: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Upsert topic rows, add (request_id, topic_id, at) assignments, and move the
        assignments of each merged (gone, into) topic before deleting the gone one."""
        ...

    async def load_topics(self) -> list[dict[str, Any]]: ...


@runtime_checkable
class Store(RequestLog, KeyStore, SpendStore, FeedbackStore, Protocol):
    """Everything a full backend (SQLite, PostgreSQL) provides."""


def open_store(url: str) -> Store:
    if url.startswith("sqlite://"):
        from proctor.store.sqlite import SQLiteStore

        return SQLiteStore(url)
    raise ValueError(f"no store backend for {url!r} in this version (sqlite:// is built in)")
