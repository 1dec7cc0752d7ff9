"""Admission: take rate-limit tokens and reserve worst-case cost before the call; settle the
real figures after it.

Reserving the worst case (prompt estimate at the input price plus the output limit at the
output price, over the priciest deployment of the chain) before the call, atomically, means
concurrent requests can never overspend a budget by more than one request's worst case;
settling afterwards gives the unused part back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from proctor.errors import BadRequest, RateLimited, ServiceUnavailable
from proctor.limits.counter import Adjust, Counter, CounterUnavailable, Reserve, Take
from proctor.limits.periods import utc_now
from proctor.limits.policy import BoundBudget, BoundLimit

log = logging.getLogger("proctor.limits")
Emit = Callable[[str, str, dict[str, Any]], None]
_MINUTE = 60.0


@dataclass(slots=True)
class Held:
    """What a request took at admission, to settle when it finishes."""

    budgets: list[tuple[BoundBudget, float, float]] = field(default_factory=list)
    tokens: list[tuple[BoundLimit, float]] = field(default_factory=list)


class Admission:
    # Settlements of this many requests at most go to the counter in one call.
    BATCH = 128

    def __init__(self, counter: Counter, emit: Emit, *, fail_closed: bool = False) -> None:
        self.counter = counter
        self.emit = emit
        self.fail_closed = fail_closed
        self.failures = 0  # counter backend errors (Redis unreachable...)
        self._pending: list[tuple[Held, float | None, int | None]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def admit(
        self,
        budgets: Sequence[BoundBudget],
        limits: Sequence[BoundLimit],
        tokens: float,
        worst_usd: float | None,
        headers: dict[str, str],
    ) -> Held:
        """Take every rate-limit token and reserve every budget, all or nothing, in one call
        to the counter."""
        takes = []
        for limit in limits:
            amount = 1.0 if limit.kind == "requests" else tokens
            if amount > limit.capacity:
                # No wait would ever let it through: say so instead of a 429 to retry forever.
                raise BadRequest(
                    f"this request needs ~{int(amount)} tokens, more than the limit of "
                    f"{limit.label} allows in total",
                    code="request_exceeds_rate_limit",
                )
            takes.append(Take(limit.counter_key, amount, limit.capacity, _MINUTE))
        reserves = []
        if worst_usd is not None:
            reserves = [Reserve(b.counter_key, worst_usd, b.limit_usd, b.ttl_s) for b in budgets]
        try:
            grant = await self.counter.acquire(takes, reserves)
        except CounterUnavailable as exc:
            return self._backend_failed(exc)
        if not grant.allowed:
            if grant.refused < len(takes):
                wait = max(1, round(grant.retry_after_s + 0.5))
                raise RateLimited(
                    f"rate limit exceeded: {limits[grant.refused].label}; retry after {wait}s",
                    code="rate_limit_exceeded",
                    headers={"retry-after": str(wait)},
                )
            budget = budgets[grant.refused - len(takes)]
            raise _exhausted(budget, grant.values[grant.refused], worst_usd or 0.0)
        values = grant.values
        held = Held(
            [(b, worst_usd or 0.0, values[len(takes) + i]) for i, b in enumerate(budgets)]
            if reserves
            else [],
            [(limit, take.amount) for limit, take in zip(limits, takes, strict=True)],
        )
        _rate_headers(limits, values, headers)
        return held

    def _backend_failed(self, exc: Exception) -> Held:
        self.failures += 1
        log.error("limits backend failed (%s): %s", type(exc).__name__, exc)
        if self.fail_closed:
            raise ServiceUnavailable(
                "rate limits and budgets cannot be checked right now",
                code="limits_unavailable",
                headers={"retry-after": "1"},
            ) from exc
        return Held()  # fail open: serve the request unmetered, the failure is counted

    async def settle(self, held: Held, cost_usd: float | None, tokens: int | None) -> None:
        await self.settle_many([(held, cost_usd, tokens)])

    def settle_later(
        self, held: Held, cost_usd: float | None, tokens: int | None, tasks: set[asyncio.Task[None]]
    ) -> None:
        """Queue a settlement. Off the request path, one task drains the queue in batches:
        under load many requests' settlements share one call to the counter (one Redis
        round trip) instead of a task and a round trip each. The task joins `tasks`, which
        the gateway awaits when it closes."""
        if not held.budgets and not held.tokens:
            return
        self._pending.append((held, cost_usd, tokens))
        if self._flusher is None:
            self._flusher = asyncio.ensure_future(self._drain())
            tasks.add(self._flusher)
            self._flusher.add_done_callback(tasks.discard)

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[: self.BATCH], self._pending[self.BATCH :]
                await self.settle_many(batch)
        finally:
            self._flusher = None

    async def settle_many(self, batch: Sequence[tuple[Held, float | None, int | None]]) -> None:
        """Turn reservations into the real costs and token counts; raise threshold events."""
        adjusts: list[Adjust] = []
        gives: list[Take] = []
        for held, cost_usd, tokens in batch:
            actual = cost_usd if cost_usd is not None else 0.0
            for budget, reserved, _ in held.budgets:
                adjusts.append(Adjust(budget.counter_key, actual - reserved, budget.ttl_s))
            for limit, taken in held.tokens:
                if limit.kind == "tokens":  # a request counts once, whatever it used
                    used = float(tokens) if tokens is not None else 0.0
                    gives.append(Take(limit.counter_key, taken - used, limit.capacity, _MINUTE))
        try:
            spent = await self.counter.settle(adjusts, gives)
            at = 0
            for held, _, _ in batch:
                for budget, reserved, after_reserve in held.budgets:
                    if budget.alerts:
                        await self._thresholds(budget, after_reserve - reserved, spent[at])
                    at += 1
        except CounterUnavailable as exc:
            self.failures += 1
            log.error("settling limits failed (%s): %s", type(exc).__name__, exc)

    async def _thresholds(self, budget: BoundBudget, before: float, after: float) -> None:
        for fraction in budget.alerts:
            mark = fraction * budget.limit_usd
            if not before < mark <= after:
                continue
            # Concurrent settlements (in this process or another replica) may all see the
            # crossing; a once-per-period flag in the counter lets exactly one report it.
            flag = f"{budget.counter_key}:alerted:{fraction}"
            first = await self.counter.reserve(flag, 1.0, 1.0, budget.ttl_s)
            if first.allowed:
                self.emit(
                    "budget_threshold",
                    budget.label,
                    {
                        "fraction": fraction,
                        "spent_usd": round(after, 6),
                        "limit_usd": budget.limit_usd,
                        "resets_at": budget.resets_at.isoformat() if budget.resets_at else None,
                    },
                )


def _exhausted(budget: BoundBudget, standing: float, worst: float) -> RateLimited:
    resets = budget.resets_at.isoformat() if budget.resets_at else "never"
    headers = {}
    if budget.resets_at is not None:
        seconds = (budget.resets_at - utc_now()).total_seconds()
        headers["retry-after"] = str(max(1, round(seconds)))
    return RateLimited(
        f"{budget.label} is exhausted: ${standing:.4f} of ${budget.limit_usd:.4f} spent or "
        f"reserved (this request may cost up to ${worst:.4f}); it resets at {resets}",
        code="budget_exceeded",
        headers=headers,
    )


def _rate_headers(
    limits: Sequence[BoundLimit], left: Sequence[float], headers: dict[str, str]
) -> None:
    """`x-ratelimit-*` for the tightest limit of each kind (requests, tokens)."""
    tightest: dict[str, tuple[float, BoundLimit]] = {}
    for limit, remaining in zip(limits, left, strict=False):
        best = tightest.get(limit.kind)
        if best is None or remaining < best[0]:
            tightest[limit.kind] = (remaining, limit)
    for kind, (remaining, limit) in tightest.items():
        refill_s = (limit.capacity - remaining) * _MINUTE / limit.capacity
        headers[f"x-ratelimit-limit-{kind}"] = str(int(limit.capacity))
        headers[f"x-ratelimit-remaining-{kind}"] = str(max(0, int(remaining)))
        headers[f"x-ratelimit-reset-{kind}"] = f"{refill_s:.3f}s"
