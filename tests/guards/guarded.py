"""A gateway with guards in front of the fake upstream, for the guard stage tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec

from proctor import config as config_mod
from proctor.app import Gateway
from proctor.context import ChatStream, Context, Reply
from proctor.testing.upstream import FakeUpstream
from proctor.wire.openai import parse_chat_request
from proctor.wire.types import ChatResponse

MODEL = "chat"


def guard_config(tmp_path: Path, fake: FakeUpstream, guards: Mapping[str, Any] | None) -> Any:
    raw: dict[str, Any] = {
        "store": {"url": f"sqlite:///{tmp_path / 'proctor.db'}", "flush_interval_ms": 20},
        "providers": {"up": {"type": "openai", "api_key": "k", "base_url": fake.url + "/v1"}},
        "models": {
            MODEL: {"deployments": [{"provider": "up", "model": "fake-chat"}]},
            "backup": {"deployments": [{"provider": "up", "model": "fake-chat-large"}]},
        },
    }
    if guards is not None:
        raw["guards"] = dict(guards)
    return config_mod.from_dict(raw)


@asynccontextmanager
async def guarded(
    tmp_path: Path, fake: FakeUpstream, guards: Mapping[str, Any] | None = None
) -> AsyncIterator[Gateway]:
    async with Gateway(guard_config(tmp_path, fake, guards)) as gateway:
        yield gateway


def user(text: str, **body: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **body}


async def run(
    gateway: Gateway, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> tuple[Context, Reply]:
    request = parse_chat_request(msgspec.json.encode(body), gateway.runtime.limits)
    ctx = Context(request=request, headers=dict(headers or {}))
    return ctx, await gateway.run(ctx)


def text_of(reply: Reply) -> str:
    assert isinstance(reply, ChatResponse)
    return reply.choices[0].message.content or ""


async def stream_text(reply: Reply) -> tuple[str, str | None]:
    """The streamed text and the last finish_reason."""
    assert isinstance(reply, ChatStream)
    parts: list[str] = []
    finish = None
    async for chunk in reply:
        for choice in chunk.choices:
            parts.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    return "".join(parts), finish


def sent_text(fake: FakeUpstream) -> str:
    """Everything the upstream received, as raw text (what the provider saw)."""
    return "\n".join(r.raw.decode("utf-8", "replace") for r in fake.requests)
