"""Through the whole gateway: a request of a high-risk feature is held by guard_in until a
decision made in another connection (as `proctor review approve` does) reaches it; a
rejection or the timeout refuses it; and the anomaly breaker's safe mode answers once the
blocks of a feature cross the threshold."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from proctor.app import Gateway
from proctor.guards.replies import GuardBlocked
from proctor.store.sqlite import SQLiteStore
from proctor.wire.types import ChatResponse
from tests.gateway_server import sim_config

CHAT = {"model": "sim-small", "messages": [{"role": "user", "content": "pay invoice 42"}]}
PAYMENTS = {"x-proctor-feature": "payments"}


@pytest.fixture
async def other(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(f"sqlite:///{tmp_path / 'proctor.db'}")
    await store.open()
    yield store
    await store.close()


def _config(tmp_path: Path, **review: Any) -> Any:
    settings = {"high_risk_features": ["payments"], "poll_s": 0.05, **review}
    return sim_config(tmp_path, guards={"review": settings})


async def _held_id(gateway: Gateway) -> str:
    for _ in range(500):
        items = await gateway.review.store.list_reviews("pending")
        if items:
            return items[0].id
        await asyncio.sleep(0.01)
    raise AssertionError("nothing was held")


async def test_held_until_approved_elsewhere(tmp_path: Path, other: SQLiteStore) -> None:
    async with Gateway(_config(tmp_path)) as gateway:
        plain = await gateway.chat(CHAT)  # another feature: not held
        assert isinstance(plain, ChatResponse)
        call = asyncio.create_task(gateway.chat(CHAT, headers=PAYMENTS))
        review_id = await _held_id(gateway)
        assert not call.done()
        item = await gateway.review.store.get_review(review_id)
        assert item is not None
        assert (item.feature, item.model, item.stage) == ("payments", "sim-small", "input")
        assert "pay invoice 42" in item.preview
        await other.decide_review(
            review_id, status="approved", decision="approve", by="operator:cli"
        )
        reply = await asyncio.wait_for(call, 10)
        assert isinstance(reply, ChatResponse)


async def test_rejected_or_timed_out_is_refused(tmp_path: Path) -> None:
    async with Gateway(_config(tmp_path, timeout_s=0.3)) as gateway:
        call = asyncio.create_task(gateway.chat(CHAT, headers=PAYMENTS))
        review_id = await _held_id(gateway)
        await gateway.review.decide(review_id, "reject", operator="eve")
        with pytest.raises(GuardBlocked, match="operator:eve"):
            await asyncio.wait_for(call, 10)
        # Nobody decides: the default (reject) applies at the timeout.
        with pytest.raises(GuardBlocked, match="timeout"):
            await asyncio.wait_for(gateway.chat(CHAT, headers=PAYMENTS), 10)


async def test_breaker_switches_a_feature_to_its_static_answer(tmp_path: Path) -> None:
    guards = {
        "banned": {"substrings": ["forbidden"], "action": "block"},
        "anomaly": {
            "min_requests": 4,
            "threshold": 0.5,
            "safe_mode": "static",
            "static_answer": "Support is paused.",
        },
    }
    bad = {"model": "sim-small", "messages": [{"role": "user", "content": "forbidden thing"}]}
    headers = {"x-proctor-feature": "support"}
    async with Gateway(sim_config(tmp_path, guards=guards)) as gateway:
        for _ in range(2):
            assert isinstance(await gateway.chat(CHAT, headers=headers), ChatResponse)
            with pytest.raises(GuardBlocked):
                await gateway.chat(bad, headers=headers)
        reply = await gateway.chat(CHAT, headers=headers)
        assert isinstance(reply, ChatResponse)
        assert reply.choices[0].message.content == "Support is paused."
        other = await gateway.chat(CHAT, headers={"x-proctor-feature": "search"})
        assert isinstance(other, ChatResponse)
        assert other.choices[0].message.content != "Support is paused."
        gateway.anomaly.reset("support", "sim-small")
        after = await gateway.chat(CHAT, headers=headers)
        assert isinstance(after, ChatResponse)
        assert after.choices[0].message.content != "Support is paused."


async def test_reload_reconfigures_and_keeps_state(tmp_path: Path) -> None:
    anomaly = {"min_requests": 2, "threshold": 0.5, "safe_mode": "strict"}
    config = sim_config(tmp_path, guards={"anomaly": anomaly})
    async with Gateway(config) as gateway:
        breaker, queue = gateway.anomaly, gateway.review
        breaker.record("f", "sim-small", "block")
        breaker.record("f", "sim-small", "block")
        assert breaker.mode("f", "sim-small") is not None
        fallback = {**anomaly, "safe_mode": "fallback", "fallback_model": "sim-small"}
        await gateway.reload(
            sim_config(tmp_path, guards={"anomaly": fallback, "review": {"timeout_s": 9}})
        )
        assert (gateway.anomaly, gateway.review) == (breaker, queue)  # the same objects
        mode = breaker.mode("f", "sim-small")
        assert mode is not None
        assert (mode.kind, mode.fallback_model) == ("fallback", "sim-small")
        assert queue.config.timeout_s == 9
        await gateway.reload(sim_config(tmp_path))  # section removed: the breaker is off
        assert breaker.mode("f", "sim-small") is None
        assert queue.config.timeout_s == 300
