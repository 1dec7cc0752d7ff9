"""Which budgets and rate limits apply to a request, and the counter key of each.

Rules come from config (`budgets:`, `limits:`) and from the caller's virtual key (its own
budget and RPM/TPM). A rule without `match` applies to each subject of its scope separately
(every user has their own daily budget); with `match`, only to that subject. A request with
no subject for a scope (no user given) is not counted under that scope.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from proctor.config import BudgetConfig, Period, RateLimitConfig, Scope
from proctor.context import Context
from proctor.limits.periods import period_end, period_id, ttl_s


class KeyLimits(Protocol):
    """What the policy needs of a virtual key (proctor.keys.KeyRecord has it)."""

    @property
    def id(self) -> str: ...
    @property
    def budget_usd(self) -> float | None: ...
    @property
    def budget_period(self) -> Period: ...
    @property
    def rpm(self) -> int | None: ...
    @property
    def tpm(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class BoundBudget:
    label: str  # how the caller and the operator see it: "budget 'team-daily' (team=ml)"
    counter_key: str
    limit_usd: float
    ttl_s: float
    resets_at: dt.datetime | None
    alerts: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class BoundLimit:
    label: str
    counter_key: str
    kind: str  # "requests" or "tokens"
    capacity: float


def subject(scope: Scope, ctx: Context) -> str | None:
    tags = ctx.tags
    if scope == "global":
        return "*"
    if scope == "model":
        return ctx.request.model
    if scope == "key":
        return tags.key_id
    value: str | None = getattr(tags, scope)
    return value


class Policy:
    def __init__(
        self,
        budgets: Sequence[BudgetConfig],
        limits: Sequence[RateLimitConfig],
        prefix: str = "",
    ) -> None:
        self.budgets = tuple(budgets)
        self.limits = tuple(limits)
        self.prefix = prefix
        # Period id, TTL and end for each period, recomputed once a second: strftime and
        # calendar arithmetic per budget per request are most of what binding costs.
        self._periods: dict[Period, tuple[int, str, float, dt.datetime | None]] = {}

    @property
    def empty(self) -> bool:
        return not self.budgets and not self.limits

    def budgets_for(
        self, ctx: Context, key: KeyLimits | None, now: dt.datetime
    ) -> list[BoundBudget]:
        bound: list[BoundBudget] = []
        for i, rule in enumerate(self.budgets):
            who = subject(rule.scope, ctx)
            if who is None or (rule.match is not None and who != rule.match):
                continue
            name = rule.name or f"budgets[{i}]"
            bound.append(
                self._budget(name, rule.scope, who, rule.period, rule.limit_usd, rule.alerts, now)
            )
        if key is not None and key.budget_usd is not None:
            bound.append(
                self._budget(
                    "key budget",
                    "key",
                    key.id,
                    key.budget_period,
                    key.budget_usd,
                    (0.5, 0.8, 1.0),
                    now,
                )
            )
        return bound

    def _budget(
        self,
        name: str,
        scope: Scope,
        who: str,
        period: Period,
        limit: float,
        alerts: tuple[float, ...],
        now: dt.datetime,
    ) -> BoundBudget:
        pid, ttl, end = self._period(period, now)
        return BoundBudget(
            label=f"{period} budget '{name}' ({scope}={who})",
            counter_key=f"{self.prefix}budget:{scope}:{who}:{period}:{pid}",
            limit_usd=limit,
            ttl_s=ttl,
            resets_at=end,
            alerts=alerts,
        )

    def _period(self, period: Period, now: dt.datetime) -> tuple[str, float, dt.datetime | None]:
        second = int(now.timestamp())
        cached = self._periods.get(period)
        if cached is None or cached[0] != second:
            cached = (second, period_id(period, now), ttl_s(period, now), period_end(period, now))
            self._periods[period] = cached
        return cached[1], cached[2], cached[3]

    def limits_for(self, ctx: Context, key: KeyLimits | None) -> list[BoundLimit]:
        bound: list[BoundLimit] = []
        for rule in self.limits:
            who = subject(rule.scope, ctx)
            if who is None or (rule.match is not None and who != rule.match):
                continue
            bound.extend(self._limits(rule.scope, who, rule.rpm, rule.tpm))
        if key is not None:
            bound.extend(self._limits("key", key.id, key.rpm, key.tpm))
        return bound

    def _limits(self, scope: Scope, who: str, rpm: int | None, tpm: int | None) -> list[BoundLimit]:
        base = f"{self.prefix}rate:{scope}:{who}"
        out = []
        if rpm is not None:
            out.append(
                BoundLimit(f"{rpm} requests/min ({scope}={who})", f"{base}:rpm", "requests", rpm)
            )
        if tpm is not None:
            out.append(
                BoundLimit(f"{tpm} tokens/min ({scope}={who})", f"{base}:tpm", "tokens", tpm)
            )
        return out
