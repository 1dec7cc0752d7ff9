from __future__ import annotations

import random
import time
from typing import Any

import pytest

from proctor import config as config_mod
from proctor.context import ChatStream, Context
from proctor.errors import BadRequest, ServiceUnavailable, UpstreamError, UpstreamTimeout
from proctor.resilience.balance import Balancer
from proctor.resilience.breaker import MemoryBreakers
from proctor.resilience.executor import Executor
from proctor.resilience.pins import PinWatch
from proctor.stages.call import Call
from proctor.stages.route import Route, plans_from
from proctor.wire.types import ChatRequest, ChatResponse, Message
from tests.resilience.scripted import Scripted


def _config(**primary: Any) -> config_mod.Config:
    chat = {
        "deployments": [{"provider": "s", "model": "primary"}],
        "fallbacks": ["backup"],
        "retry": {"attempts": 1, "backoff_s": 0.001},
        "breaker": {"consecutive_failures": 3, "cooldown_s": 60},
    }
    chat.update(primary)
    return config_mod.from_dict(
        {
            "providers": {"s": {"type": "sim"}},
            "models": {
                "chat": chat,
                "backup": {"deployments": [{"provider": "s", "model": "backup"}]},
            },
        }
    )


class Harness:
    def __init__(self, config: config_mod.Config) -> None:
        self.provider = Scripted()
        self.breakers = MemoryBreakers()
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        balancer = Balancer(random.Random(0))
        self.route = Route(plans_from(config), frozenset({"s"}), balancer)
        executor = Executor(
            {"s": self.provider},
            self.breakers,
            balancer,
            PinWatch(lambda *event: self.events.append(event)),
            rng=random.Random(0),
        )
        self.call = Call(executor)

    async def run(self, text: str = "hi", **request: Any) -> tuple[Context, Any]:
        ctx = Context(
            request=ChatRequest(
                model="chat", messages=[Message(role="user", content=text)], **request
            )
        )
        ctx.notes["candidates"] = self.route.candidates("chat")
        ctx.public_model = "chat"

        async def end(_: Context) -> Any:
            raise AssertionError("call is the last stage")

        return ctx, await self.call(ctx, end)


def _text(reply: Any) -> str:
    assert isinstance(reply, ChatResponse)
    return reply.choices[0].message.content or ""


@pytest.mark.parametrize("fault", ["500", "503", "refused", "garbage", "429:0"])
async def test_retries_then_falls_back_on_retryable_faults(fault: str) -> None:
    harness = Harness(_config())
    harness.provider.script["primary"].extend([fault, fault])
    ctx, reply = await harness.run()
    assert _text(reply) == "answer from backup"
    assert [a.deployment for a in ctx.attempts] == ["s/primary", "s/primary", "s/backup"]
    assert ctx.attempts[-1].status == 200
    assert ctx.deployment == "s/backup"


async def test_a_retry_can_succeed_on_the_same_deployment() -> None:
    harness = Harness(_config())
    harness.provider.script["primary"].append("503")
    ctx, reply = await harness.run()
    assert _text(reply) == "answer from primary"
    assert [a.status for a in ctx.attempts] == [502, 200]


async def test_a_bad_request_is_final_and_not_retried() -> None:
    harness = Harness(_config())
    harness.provider.script["primary"].append("400")
    with pytest.raises(UpstreamError) as caught:
        await harness.run()
    assert caught.value.status == 400
    assert harness.provider.calls == ["primary"]


async def test_retry_after_is_honoured_and_a_long_one_moves_on() -> None:
    harness = Harness(_config())
    harness.provider.script["primary"].append("429:0.3")
    start = time.monotonic()
    _, reply = await harness.run()
    assert time.monotonic() - start >= 0.3
    assert _text(reply) == "answer from primary"

    harness = Harness(_config())
    harness.provider.script["primary"].append("429:120")
    start = time.monotonic()
    _, reply = await harness.run()
    assert time.monotonic() - start < 30
    assert _text(reply) == "answer from backup"


async def test_triggers_not_listed_do_not_fall_back() -> None:
    harness = Harness(_config(fallback_on=["timeout"]))
    harness.provider.script["primary"].extend(["500", "500"])
    with pytest.raises(UpstreamError):
        await harness.run()
    assert "backup" not in harness.provider.calls


async def test_open_breaker_skips_the_deployment_without_calling_it() -> None:
    harness = Harness(_config(retry={"attempts": 0}))
    harness.provider.script["primary"].extend(["500"] * 3)
    for _ in range(3):
        await harness.run()
    calls_before = len(harness.provider.calls)
    ctx, reply = await harness.run()
    assert _text(reply) == "answer from backup"
    assert harness.provider.calls[calls_before:] == ["backup"]
    assert ctx.attempts[0].error == "skipped: circuit breaker open"


async def test_all_breakers_open_is_a_503_with_retry_after() -> None:
    harness = Harness(_config(retry={"attempts": 0}, fallbacks=[]))
    harness.provider.script["primary"].extend(["500"] * 3)
    for _ in range(3):
        with pytest.raises(UpstreamError):
            await harness.run()
    with pytest.raises(ServiceUnavailable) as caught:
        await harness.run()
    assert caught.value.headers["retry-after"] == "60"


async def test_timeout_moves_to_the_fallback() -> None:
    harness = Harness(_config(timeouts={"total_s": 0.2}))
    harness.provider.script["primary"].append("hang")
    ctx, reply = await harness.run()
    assert _text(reply) == "answer from backup"
    assert ctx.attempts[0].status == 504


async def test_prompt_too_long_for_the_window_goes_to_a_larger_model() -> None:
    config = _config(deployments=[{"provider": "s", "model": "primary", "context_window": 50}])
    harness = Harness(config)
    ctx, reply = await harness.run("word " * 200)
    assert _text(reply) == "answer from backup"
    assert harness.provider.calls == ["backup"]
    assert "window is 50" in (ctx.attempts[0].error or "")


async def test_prompt_too_long_for_every_window_is_a_400() -> None:
    config = config_mod.from_dict(
        {
            "providers": {"s": {"type": "sim"}},
            "models": {
                "chat": {"deployments": [{"provider": "s", "model": "p", "context_window": 10}]}
            },
        }
    )
    harness = Harness(config)
    with pytest.raises(BadRequest) as caught:
        await harness.run("word " * 100)
    assert caught.value.code == "context_length_exceeded"


async def test_stream_that_fails_before_the_first_chunk_fails_over() -> None:
    harness = Harness(_config(timeouts={"first_token_s": 0.2}))
    harness.provider.script["primary"].append("hang")
    _, reply = await harness.run(stream=True)
    assert isinstance(reply, ChatStream)
    text = "".join([c.choices[0].delta.content or "" async for c in reply])
    assert text == "from backup end"


@pytest.mark.parametrize("fault", ["stall", "drop"])
async def test_stream_that_fails_after_the_first_chunk_ends_with_an_error(fault: str) -> None:
    harness = Harness(_config(timeouts={"idle_s": 0.2}))
    harness.provider.script["primary"].append(fault)
    _, reply = await harness.run(stream=True)
    assert isinstance(reply, ChatStream)
    seen: list[str | None] = []

    async def consume() -> None:
        async for chunk in reply:
            seen.append(chunk.choices[0].delta.content)

    with pytest.raises(UpstreamError) as caught:
        await consume()
    assert seen == ["from primary"]
    if fault == "stall":
        assert isinstance(caught.value, UpstreamTimeout)


async def test_hedge_races_a_second_deployment_and_cancels_the_loser() -> None:
    harness = Harness(_config(hedge={"after_ms": 50}))
    harness.provider.script["primary"].append("slow:2")
    start = time.monotonic()
    ctx, reply = await harness.run()
    assert time.monotonic() - start < 1.5
    assert _text(reply) == "answer from backup"
    assert ctx.notes["hedge_winner"] == "s/backup"
    assert ctx.attempts[0].error == "cancelled"


async def test_degrade_with_a_static_message() -> None:
    harness = Harness(_config(fallbacks=[], retry={"attempts": 0}, degrade={"message": "later"}))
    harness.provider.script["primary"].append("500")
    ctx, reply = await harness.run()
    assert _text(reply) == "later"
    assert ctx.response_headers["x-proctor-degraded"] == "true"


async def test_degrade_without_a_message_is_a_503_with_retry_after() -> None:
    harness = Harness(_config(fallbacks=[], retry={"attempts": 0}, degrade={"retry_after_s": 7}))
    harness.provider.script["primary"].append("500")
    with pytest.raises(ServiceUnavailable) as caught:
        await harness.run()
    assert caught.value.headers["retry-after"] == "7"


async def test_a_pinned_deployment_serving_another_model_raises_an_event() -> None:
    config = _config(deployments=[{"provider": "s", "model": "primary", "pinned": True}])
    harness = Harness(config)
    harness.provider.served["primary"] = "primary-2024-01-01"
    await harness.run()
    assert harness.events == []
    harness.provider.served["primary"] = "primary-2025-06-01"
    await harness.run()
    [(kind, subject, detail)] = harness.events
    assert kind == "model_version_changed"
    assert subject == "s/primary"
    assert detail["current"]["model"] == "primary-2025-06-01"
