"""The review queue: a held request waits for a human decision, or for its timeout.

`hold(item)` stores the item and waits on an asyncio future. A decision made in this process
(`decide`, the admin API) resolves that future at once. A decision made elsewhere (the CLI
writes straight to the store, another replica's admin API) is found by one background task
that reads the held items' rows every `review.poll_s`, and that runs only while this process
holds at least one request: an idle gateway never polls. When `expires_at` passes first, the
item is marked expired with its default decision, by a compare-and-set in the store, so a
decision arriving at the deadline is either the one applied or refused with a conflict.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from proctor.config.guard_ops import Decision, ReviewConfig
from proctor.config.guards import GuardsConfig
from proctor.context import Context
from proctor.guards.base import Detection
from proctor.guards.review.item import (
    ReviewConflict,
    ReviewDecision,
    ReviewItem,
    Stage,
    Status,
    findings_of,
    new_review_id,
    preview_of,
)
from proctor.store.review import ReviewStore

log = logging.getLogger("proctor.review")

Emit = Callable[[str, str, dict[str, Any]], None]


def operator_tag(who: str | None) -> str:
    """How a human decision is recorded in `decided_by`."""
    return f"operator:{(who or '').strip() or 'admin'}"


def decision_of(item: ReviewItem, by: str | None = None) -> ReviewDecision:
    """The decision a decided (or timed-out) item stands for."""
    return ReviewDecision(
        review_id=item.id,
        decision=item.decision or item.default_decision,
        decided_by=by or item.decided_by or "timeout",
        reason=item.reason,
    )


def review_config(guards: GuardsConfig) -> ReviewConfig:
    return guards.review if guards.review is not None else ReviewConfig()


class ReviewUnavailable(RuntimeError):
    """The gateway's store keeps no review queue."""


class ReviewQueue:
    def __init__(
        self,
        store: object,
        config: ReviewConfig | None = None,
        *,
        emit: Emit | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store if isinstance(store, ReviewStore) else None
        self.config = config if config is not None else ReviewConfig()
        self._emit = emit
        self._clock = clock
        self._waiting: dict[str, tuple[ReviewItem, asyncio.Future[ReviewDecision]]] = {}
        self._poller: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self.polls = 0  # store reads by the poller (tests and metrics look)

    @property
    def store(self) -> ReviewStore:
        if self._store is None:
            raise ReviewUnavailable("this gateway's store keeps no review queue")
        return self._store

    @property
    def holding(self) -> int:
        """Requests of this process waiting for a decision now."""
        return len(self._waiting)

    def configure(self, config: ReviewConfig) -> None:
        """Apply a reloaded config; items already held keep their expiry."""
        self.config = config

    def is_high_risk(self, feature: str | None, rules: Iterable[str] = ()) -> bool:
        """Whether a request of `feature` that tripped `rules` must be held for review."""
        config = self.config
        if feature is not None and feature in config.high_risk_features:
            return True
        return any(rule in config.high_risk_rules for rule in rules)

    def new_item(
        self,
        ctx: Context,
        *,
        stage: Stage,
        text: str,
        rules: Sequence[str],
        detections: Sequence[Detection] = (),
        hidden: Sequence[tuple[str, str]] = (),
    ) -> ReviewItem:
        """The item for `ctx`, held at `stage` because of `rules`. `text` is what is held (the
        prompt or the answer); only its redacted preview is kept. `hidden`: (type, value) of
        the personal data and secrets the guards found, replaced wherever they appear."""
        config, now = self.config, self._clock()
        tags = ctx.tags
        return ReviewItem(
            id=new_review_id(),
            request_id=ctx.request_id,
            stage=stage,
            rules=tuple(rules),
            created_at=now,
            expires_at=now + config.timeout_s,
            default_decision=config.default_decision,
            preview=preview_of(text, detections, config.preview_chars, hidden),
            findings=findings_of(detections),
            feature=tags.feature,
            model=ctx.public_model or ctx.request.model or None,  # before route: as asked
            key_id=tags.key_id,
            user=tags.user,
            tenant=tags.tenant,
        )

    async def hold(self, item: ReviewItem) -> ReviewDecision:
        """Store `item` and wait for its decision, at most until `item.expires_at`.

        Never raises for lack of a reviewer: when the queue cannot hold the item (no review
        store, store down, `max_pending` reached, shutting down) the item's default decision
        applies at once, and `decided_by` says why."""
        if self._closed:
            return decision_of(item, "shutdown")
        if self._store is None:
            return decision_of(item, "unavailable")
        if len(self._waiting) >= self.config.max_pending:
            log.warning(
                "review queue full (%d held): %s gets its default", len(self._waiting), item.id
            )
            return decision_of(item, "overflow")
        future: asyncio.Future[ReviewDecision] = asyncio.get_running_loop().create_future()
        # Registered before the write, so a decision racing the write still finds the waiter.
        self._waiting[item.id] = (item, future)
        try:
            try:
                await self._store.add_review(item)
            except Exception:
                log.exception("could not store review item %s; its default applies", item.id)
                return decision_of(item, "unavailable")
            self._event("review_held", item)
            if self._poller is None:
                self._poller = asyncio.create_task(self._poll(), name="proctor-review-poll")
            try:
                remaining = max(0.0, item.expires_at - self._clock())
                return await asyncio.wait_for(asyncio.shield(future), remaining)
            except TimeoutError:
                return await self._expire(item, "timeout")
            except asyncio.CancelledError:
                # The client went away (or shutdown cancelled the request): close the item now
                # rather than leave it pending until it expires.
                self._spawn(self._expire(item, "cancelled"))
                raise
        finally:
            self._waiting.pop(item.id, None)

    async def decide(
        self,
        review_id: str,
        decision: Decision,
        *,
        operator: str | None = None,
        reason: str | None = None,
    ) -> ReviewItem:
        """Approve or reject a pending item and wake its request if this process holds it.
        ReviewNotFound / ReviewConflict (decided or expired) from the store."""
        status: Status = "approved" if decision == "approve" else "rejected"
        item = await self.store.decide_review(
            review_id, status=status, decision=decision, by=operator_tag(operator), reason=reason
        )
        self._wake(item)
        return item

    async def start(self) -> None:
        self._closed = False

    async def stop(self) -> None:
        """Give every held request its default decision (recorded as `shutdown`)."""
        self._closed = True
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        for item, _ in list(self._waiting.values()):
            await self._expire(item, "shutdown")
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- internals -----------------------------------------------------------------------

    def _wake(self, item: ReviewItem) -> None:
        self._wake_with(item.id, decision_of(item))

    async def _expire(self, item: ReviewItem, by: str) -> ReviewDecision:
        """Close `item` with its default decision, unless a decision got there first."""
        try:
            expired = await self.store.decide_review(
                item.id, status="expired", decision=item.default_decision, by=by
            )
        except ReviewConflict as exc:
            decided = decision_of(exc.item)  # decided at the deadline: that decision stands
        except Exception:
            log.exception("could not record the expiry of review item %s", item.id)
            decided = decision_of(item, by)
        else:
            decided = decision_of(expired)
            self._event("review_expired", expired)
        self._wake_with(item.id, decided)
        return decided

    def _wake_with(self, review_id: str, decision: ReviewDecision) -> None:
        held = self._waiting.get(review_id)
        if held is not None and not held[1].done():
            held[1].set_result(decision)

    async def _poll(self) -> None:
        """Read the held items' rows every `poll_s` while any are held, then end."""
        try:
            while self._waiting:
                await asyncio.sleep(self.config.poll_s)
                ids = list(self._waiting)
                if not ids:
                    break
                self.polls += 1
                try:
                    items = await self.store.get_reviews(ids)
                except Exception:
                    log.exception("polling review decisions failed; retrying")
                    continue
                for item in items:
                    if item.decided_at is not None:
                        self._wake(item)
        finally:
            self._poller = None

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _event(self, kind: str, item: ReviewItem) -> None:
        if self._emit is None:
            return
        detail: dict[str, Any] = {
            "request_id": item.request_id,
            "stage": item.stage,
            "rules": list(item.rules),
            "feature": item.feature,
            "model": item.model,
        }
        if kind == "review_held":
            detail["expires_at"] = item.expires_at
            detail["default_decision"] = item.default_decision
        else:
            detail["decision"] = item.decision
            detail["decided_by"] = item.decided_by
        self._emit(kind, item.id, detail)
