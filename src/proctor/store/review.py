"""The review queue's storage: the `ReviewStore` protocol and its SQLite implementation.

Review writes are rare (one per held request, one per decision) and must be seen by other
processes at once (the CLI decides, the gateway polls), so they are direct, not batched.
A decision is a compare-and-set on `status = 'pending'`: of two reviewers deciding at once,
or a reviewer and the gateway's timeout, exactly one wins and the other gets ReviewConflict.

An item still `pending` after its `expires_at` is reported as `expired` (its gateway stopped,
or the client went away before the timeout) and can no longer be decided.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

import msgspec

from proctor.config.guard_ops import Decision
from proctor.guards.review.item import (
    ReviewConflict,
    ReviewFinding,
    ReviewItem,
    ReviewNotFound,
    Status,
)

T = TypeVar("T")

REVIEW_COLUMNS: tuple[str, ...] = ReviewItem.__struct_fields__
_NAMES = ", ".join(f'"{c}"' for c in REVIEW_COLUMNS)
_INSERT_REVIEW = f"INSERT INTO review ({_NAMES}) VALUES ({', '.join('?' for _ in REVIEW_COLUMNS)})"
_FINDINGS = msgspec.json.Decoder(tuple[ReviewFinding, ...])
_RULES = msgspec.json.Decoder(tuple[str, ...])
# Filters of `list_reviews` that depend on the clock (`?` is now); the others are plain.
_BY_CLOCK: dict[str, str] = {
    "pending": "status = 'pending' AND expires_at > ?",
    "expired": "(status = 'expired' OR (status = 'pending' AND expires_at <= ?))",
}


@runtime_checkable
class ReviewStore(Protocol):
    """Items held for human review. Times are unix seconds; `now` defaults to the clock."""

    async def add_review(self, item: ReviewItem) -> None: ...

    async def get_review(self, review_id: str, now: float | None = None) -> ReviewItem | None: ...

    async def get_reviews(self, review_ids: Sequence[str]) -> list[ReviewItem]:
        """The stored items among these ids, as stored (no expiry applied): the poll."""
        ...

    async def list_reviews(
        self, status: Status | None = None, limit: int = 50, now: float | None = None
    ) -> list[ReviewItem]:
        """Newest first; `pending` first-come first-served would hide old items behind new
        ones, but a reviewer wants to see the freshest (still waiting) requests first."""
        ...

    async def decide_review(
        self,
        review_id: str,
        *,
        status: Status,
        decision: Decision,
        by: str,
        reason: str | None = None,
        now: float | None = None,
    ) -> ReviewItem:
        """Set the outcome of a pending item and return it. `approved` / `rejected` need an
        item not past its `expires_at`; `expired` (the gateway's timeout) only a pending one.
        ReviewNotFound for an unknown id, ReviewConflict when it is decided or expired."""
        ...


def review_row(item: ReviewItem) -> tuple[Any, ...]:
    row = dict(zip(REVIEW_COLUMNS, msgspec.structs.astuple(item), strict=True))
    row["rules"] = msgspec.json.encode(item.rules).decode()
    row["findings"] = msgspec.json.encode(item.findings).decode()
    return tuple(row.values())


def review_from_row(row: sqlite3.Row | dict[str, Any], now: float | None) -> ReviewItem:
    fields = dict(row)
    fields["rules"] = _RULES.decode(fields["rules"])
    fields["findings"] = _FINDINGS.decode(fields["findings"])
    if now is not None and fields["status"] == "pending" and fields["expires_at"] <= now:
        fields["status"] = "expired"
    return ReviewItem(**fields)


class SQLiteReviews:
    """ReviewStore for SQLiteStore (mixed into it): every call runs on the store's thread."""

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError  # SQLiteStore's

    async def add_review(self, item: ReviewItem) -> None:
        row = review_row(item)

        def add(db: sqlite3.Connection) -> None:
            with db:
                db.execute("BEGIN")
                db.execute(_INSERT_REVIEW, row)

        await self._run(add)

    async def get_review(self, review_id: str, now: float | None = None) -> ReviewItem | None:
        at = time.time() if now is None else now

        def get(db: sqlite3.Connection) -> ReviewItem | None:
            row = db.execute("SELECT * FROM review WHERE id = ?", (review_id,)).fetchone()
            return review_from_row(row, at) if row else None

        return await self._run(get)

    async def get_reviews(self, review_ids: Sequence[str]) -> list[ReviewItem]:
        ids = list(review_ids)

        def get(db: sqlite3.Connection) -> list[ReviewItem]:
            found: list[ReviewItem] = []
            for start in range(0, len(ids), 500):  # SQLite caps bound parameters
                chunk = ids[start : start + 500]
                marks = ", ".join("?" for _ in chunk)
                cursor = db.execute(f"SELECT * FROM review WHERE id IN ({marks})", chunk)
                found.extend(review_from_row(row, None) for row in cursor)
            return found

        return await self._run(get)

    async def list_reviews(
        self, status: Status | None = None, limit: int = 50, now: float | None = None
    ) -> list[ReviewItem]:
        at = time.time() if now is None else now
        where = ""
        params: tuple[object, ...] = ()
        if status in _BY_CLOCK:
            where, params = f" WHERE {_BY_CLOCK[status]}", (at,)
        elif status is not None:
            where, params = " WHERE status = ?", (status,)

        def select(db: sqlite3.Connection) -> list[ReviewItem]:
            cursor = db.execute(
                f"SELECT * FROM review{where} ORDER BY created_at DESC, id LIMIT ?",
                (*params, limit),
            )
            return [review_from_row(row, at) for row in cursor]

        return await self._run(select)

    async def decide_review(
        self,
        review_id: str,
        *,
        status: Status,
        decision: Decision,
        by: str,
        reason: str | None = None,
        now: float | None = None,
    ) -> ReviewItem:
        at = time.time() if now is None else now

        def decide(db: sqlite3.Connection) -> ReviewItem:
            with db:
                # IMMEDIATE: hold the write lock from the read to the update, so another
                # process cannot decide the same item in between.
                db.execute("BEGIN IMMEDIATE")
                row = db.execute("SELECT * FROM review WHERE id = ?", (review_id,)).fetchone()
                if row is None:
                    raise ReviewNotFound(f"no review item {review_id!r}")
                item = review_from_row(row, None if status == "expired" else at)
                if item.status != "pending":
                    raise ReviewConflict(review_from_row(row, at))
                db.execute(
                    "UPDATE review SET status = ?, decision = ?, decided_by = ?, "
                    "decided_at = ?, reason = ? WHERE id = ?",
                    (status, decision, by, at, reason, review_id),
                )
                return msgspec.structs.replace(
                    item,
                    status=status,
                    decision=decision,
                    decided_by=by,
                    decided_at=at,
                    reason=reason,
                )

        return await self._run(decide)
