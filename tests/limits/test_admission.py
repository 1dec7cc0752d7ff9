from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from proctor.config import BudgetConfig, RateLimitConfig
from proctor.context import Context, Tags
from proctor.errors import RateLimited, ServiceUnavailable
from proctor.limits.admission import Admission
from proctor.limits.counter import CounterUnavailable, MemoryCounter
from proctor.limits.periods import period_end, period_id
from proctor.limits.policy import Policy
from proctor.wire.types import ChatRequest, Message

NOW = dt.datetime(2026, 11, 27, 13, 45, 12, tzinfo=dt.UTC)


def _ctx(**tags: str) -> Context:
    ctx = Context(request=ChatRequest(model="chat", messages=[Message(role="user", content="x")]))
    ctx.tags = Tags(**tags)
    return ctx


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, kind: str, subject: str, detail: dict[str, Any]) -> None:
        self.seen.append((kind, subject, detail))


def test_periods_are_utc_calendar_periods() -> None:
    assert period_id("day", NOW) == "2026-11-27"
    assert period_id("month", NOW) == "2026-11"
    assert period_end("day", NOW) == dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
    assert period_end("month", NOW) == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    december = NOW.replace(month=12, day=31)
    assert period_end("month", december) == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    assert period_end("total", NOW) is None


def test_rules_bind_to_each_subject_or_only_the_matched_one() -> None:
    policy = Policy(
        [
            BudgetConfig(scope="user", limit_usd=1, period="day", name="per-user"),
            BudgetConfig(scope="team", match="ml", limit_usd=10),
            BudgetConfig(scope="global", limit_usd=100),
        ],
        [RateLimitConfig(scope="user", rpm=5, tpm=1000)],
        "p:",
    )
    bound = policy.budgets_for(_ctx(user="ann", team="web"), None, NOW)
    assert [b.counter_key for b in bound] == [
        "p:budget:user:ann:day:2026-11-27",
        "p:budget:global:*:month:2026-11",
    ]
    assert "per-user" in bound[0].label
    assert len(policy.budgets_for(_ctx(team="ml"), None, NOW)) == 2  # no user: not counted
    limits = policy.limits_for(_ctx(user="ann"), None)
    assert [(limit.kind, limit.capacity) for limit in limits] == [
        ("requests", 5),
        ("tokens", 1000),
    ]


async def test_budget_refuses_once_reservations_would_pass_the_limit() -> None:
    policy = Policy([BudgetConfig(scope="global", limit_usd=1.0, period="day")], [], "")
    admission = Admission(MemoryCounter(), Events())
    budgets = policy.budgets_for(_ctx(), None, NOW)
    held = [await admission.admit(budgets, [], 10, 0.3, {}) for _ in range(3)]
    with pytest.raises(RateLimited) as caught:
        await admission.admit(budgets, [], 10, 0.3, {})
    assert caught.value.code == "budget_exceeded"
    assert "resets at 2026-11-28T00:00:00+00:00" in caught.value.message
    # Settling to the real (smaller) cost frees room for more.
    for h in held:
        await admission.settle(h, 0.1, 20)
    await admission.admit(budgets, [], 10, 0.3, {})


async def test_thresholds_raise_one_event_each_when_crossed() -> None:
    events = Events()
    policy = Policy([BudgetConfig(scope="global", limit_usd=1.0, name="g")], [], "")
    admission = Admission(MemoryCounter(), events)
    budgets = policy.budgets_for(_ctx(), None, NOW)
    for _ in range(4):  # 0.25 at a time: 0.5 crossed by the 2nd, 0.8 and 1.0 by the 4th
        held = await admission.admit(budgets, [], 10, 0.25, {})
        await admission.settle(held, 0.25, 10)
    fractions = [detail["fraction"] for kind, _, detail in events.seen]
    assert fractions == [0.5, 0.8, 1.0]
    assert all(kind == "budget_threshold" for kind, _, _ in events.seen)


async def test_concurrent_reservations_never_overspend() -> None:
    policy = Policy([BudgetConfig(scope="global", limit_usd=50.0)], [], "")
    admission = Admission(MemoryCounter(), Events())
    budgets = policy.budgets_for(_ctx(), None, NOW)

    async def one() -> bool:
        try:
            held = await admission.admit(budgets, [], 10, 1.0, {})
        except RateLimited:
            return False
        await asyncio.sleep(0)
        await admission.settle(held, 1.0, 10)
        return True

    results = await asyncio.gather(*(one() for _ in range(200)))
    assert sum(results) == 50
    assert await admission.counter.spent(budgets[0].counter_key) == pytest.approx(50.0)


async def test_rate_limit_refuses_with_retry_after_and_sets_headers() -> None:
    policy = Policy([], [RateLimitConfig(scope="user", rpm=2)], "")
    admission = Admission(MemoryCounter(), Events())
    limits = policy.limits_for(_ctx(user="u"), None)
    headers: dict[str, str] = {}
    await admission.admit([], limits, 5, None, headers)
    assert headers["x-ratelimit-limit-requests"] == "2"
    assert headers["x-ratelimit-remaining-requests"] == "1"
    await admission.admit([], limits, 5, None, {})
    with pytest.raises(RateLimited) as caught:
        await admission.admit([], limits, 5, None, {})
    assert caught.value.code == "rate_limit_exceeded"
    assert int(caught.value.headers["retry-after"]) >= 1


async def test_a_refused_budget_gives_back_the_rate_limit_tokens() -> None:
    policy = Policy(
        [BudgetConfig(scope="global", limit_usd=0.1)], [RateLimitConfig(scope="global", rpm=1)], ""
    )
    admission = Admission(MemoryCounter(), Events())
    budgets, limits = policy.budgets_for(_ctx(), None, NOW), policy.limits_for(_ctx(), None)
    with pytest.raises(RateLimited, match="budget"):
        await admission.admit(budgets, limits, 5, 1.0, {})
    # The request slot was returned: a cheap request still fits in this minute.
    await admission.admit(budgets, limits, 5, 0.05, {})


class Broken(MemoryCounter):
    async def acquire(self, *args: Any) -> Any:
        raise CounterUnavailable("redis is gone")

    async def settle(self, *args: Any) -> Any:
        raise CounterUnavailable("redis is gone")


async def test_backend_failure_fails_open_by_default_and_closed_when_asked() -> None:
    policy = Policy([], [RateLimitConfig(scope="global", rpm=1)], "")
    limits = policy.limits_for(_ctx(), None)
    open_admission = Admission(Broken(), Events())
    await open_admission.admit([], limits, 1, None, {})
    assert open_admission.failures == 1
    with pytest.raises(ServiceUnavailable):
        await Admission(Broken(), Events(), fail_closed=True).admit([], limits, 1, None, {})


class CountingSettles(MemoryCounter):
    def __init__(self) -> None:
        super().__init__()
        self.settle_calls = 0

    async def settle(self, *args: Any) -> Any:
        self.settle_calls += 1
        await asyncio.sleep(0.01)  # a round trip, during which more requests finish
        return await super().settle(*args)


async def test_settlements_of_many_requests_share_one_counter_call() -> None:
    policy = Policy([BudgetConfig(scope="global", limit_usd=10.0)], [], "")
    counter = CountingSettles()
    admission = Admission(counter, Events())
    tasks: set[asyncio.Task[None]] = set()
    budgets = policy.budgets_for(_ctx(), None, NOW)
    helds = [await admission.admit(budgets, [], 10, 0.5, {}) for _ in range(12)]
    assert await counter.spent(budgets[0].counter_key) == pytest.approx(6.0)
    admission.settle_later(helds[0], 0.25, 10, tasks)
    await asyncio.sleep(0)  # the drain starts with one settlement and is in its round trip
    for held in helds[1:]:
        admission.settle_later(held, 0.25, 10, tasks)
    await asyncio.gather(*list(tasks))
    assert counter.settle_calls == 2  # the first alone, then the eleven queued behind it
    assert await counter.spent(budgets[0].counter_key) == pytest.approx(3.0)
    assert not tasks
    # Nothing held, nothing queued.
    admission.settle_later(await admission.admit([], [], 1, None, {}), 0.0, 0, tasks)
    assert not tasks
