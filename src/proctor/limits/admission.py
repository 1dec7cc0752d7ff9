"""Admission: take rate-limit tokens and reserve worst-case cost before the call; settle the
real figures after it.

Reserving the worst case (prompt estimate at the input price plus the output limit at the
output price, over the priciest deployment of the chain) before the call, atomically, means
concurrent requests can never overspend a budget by more than one request's worst case;
settling afterwards gives the unused part back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from proctor.errors import BadRequest, RateLimited, ServiceUnavailable
from proctor.limits.counter import Counter, CounterUnavailable
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
    def __init__(self, counter: Counter, emit: Emit, *, fail_closed: bool = False) -> None:
        self.counter = counter
        self.emit = emit
        self.fail_closed = fail_closed
        self.failures = 0  # counter backend errors (Redis unreachable...)

    async def admit(
        self,
        budgets: Sequence[BoundBudget],
        limits: Sequence[BoundLimit],
        tokens: float,
        worst_usd: float | None,
        headers: dict[str, str],
    ) -> Held:
        held = Held()
        try:
            await self._take_limits(limits, tokens, held, headers)
            if worst_usd is not None:
                await self._reserve(budgets, worst_usd, held)
        except (RateLimited, BadRequest):
            await self.release(held)
            raise
        except CounterUnavailable as exc:
            return await self._backend_failed(exc, held)
        return held

    async def _backend_failed(self, exc: Exception, held: Held) -> Held:
        self.failures += 1
        log.error("limits backend failed (%s): %s", type(exc).__name__, exc)
        if self.fail_closed:
            raise ServiceUnavailable(
                "rate limits and budgets cannot be checked right now",
                code="limits_unavailable",
                headers={"retry-after": "1"},
            ) from exc
        return held  # fail open: serve the request unmetered, the failure is counted

    async def _take_limits(
        self, limits: Sequence[BoundLimit], tokens: float, held: Held, headers: dict[str, str]
    ) -> None:
        tightest: dict[str, tuple[float, BoundLimit]] = {}
        for limit in limits:
            amount = 1.0 if limit.kind == "requests" else tokens
            if amount > limit.capacity:
                # No wait would ever let it through: say so instead of a 429 to retry forever.
                raise BadRequest(
                    f"this request needs ~{int(amount)} tokens, more than the limit of "
                    f"{limit.label} allows in total",
                    code="request_exceeds_rate_limit",
                )
            decision = await self.counter.take(limit.counter_key, amount, limit.capacity, _MINUTE)
            if not decision.allowed:
                wait = max(1, round(decision.retry_after_s + 0.5))
                raise RateLimited(
                    f"rate limit exceeded: {limit.label}; retry after {wait}s",
                    code="rate_limit_exceeded",
                    headers={"retry-after": str(wait)},
                )
            held.tokens.append((limit, amount))
            best = tightest.get(limit.kind)
            if best is None or decision.value < best[0]:
                tightest[limit.kind] = (decision.value, limit)
        for kind, (remaining, limit) in tightest.items():
            refill_s = (limit.capacity - remaining) * _MINUTE / limit.capacity
            headers[f"x-ratelimit-limit-{kind}"] = str(int(limit.capacity))
            headers[f"x-ratelimit-remaining-{kind}"] = str(max(0, int(remaining)))
            headers[f"x-ratelimit-reset-{kind}"] = f"{refill_s:.3f}s"

    async def _reserve(self, budgets: Sequence[BoundBudget], worst: float, held: Held) -> None:
        for budget in budgets:
            decision = await self.counter.reserve(
                budget.counter_key, worst, budget.limit_usd, budget.ttl_s
            )
            if not decision.allowed:
                resets = budget.resets_at.isoformat() if budget.resets_at else "never"
                headers = {}
                if budget.resets_at is not None:
                    seconds = (budget.resets_at - utc_now()).total_seconds()
                    headers["retry-after"] = str(max(1, round(seconds)))
                raise RateLimited(
                    f"{budget.label} is exhausted: ${decision.value:.4f} of "
                    f"${budget.limit_usd:.4f} spent or reserved (this request may cost up to "
                    f"${worst:.4f}); it resets at {resets}",
                    code="budget_exceeded",
                    headers=headers,
                )
            held.budgets.append((budget, worst, decision.value))

    async def release(self, held: Held) -> None:
        """Give everything back: the request never reached a provider."""
        await self.settle(held, 0.0, 0, refund_requests=True)

    async def settle(
        self,
        held: Held,
        cost_usd: float | None,
        tokens: int | None,
        *,
        refund_requests: bool = False,
    ) -> None:
        """Turn reservations into the real cost and token count; raise threshold events."""
        try:
            for budget, reserved, after_reserve in held.budgets:
                actual = cost_usd if cost_usd is not None else 0.0
                spent = await self.counter.adjust(
                    budget.counter_key, actual - reserved, budget.ttl_s
                )
                await self._thresholds(budget, after_reserve - reserved, spent)
            for limit, taken in held.tokens:
                if limit.kind == "tokens":
                    used = float(tokens) if tokens is not None else 0.0
                    await self.counter.give(
                        limit.counter_key, taken - used, limit.capacity, _MINUTE
                    )
                elif refund_requests:
                    await self.counter.give(limit.counter_key, taken, limit.capacity, _MINUTE)
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
