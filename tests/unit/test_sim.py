from __future__ import annotations

import json

import pytest

from proctor.config import SimProviderConfig
from proctor.errors import UpstreamError, UpstreamStatusError
from proctor.providers.base import Deployment
from proctor.providers.sim import SimProvider
from proctor.wire.types import (
    ChatRequest,
    EmbeddingRequest,
    FunctionDef,
    Message,
    StreamOptions,
    Tool,
)

DEPLOYMENT = Deployment("sim-small", "sim", "small")


def _request(text: str = "hello", **kw: object) -> ChatRequest:
    return ChatRequest(model="sim-small", messages=[Message(role="user", content=text)], **kw)  # type: ignore[arg-type]


async def test_answers_are_deterministic_and_labelled() -> None:
    sim = SimProvider("sim", SimProviderConfig(seed=5))
    first = await sim.complete(_request(), DEPLOYMENT)
    second = await sim.complete(_request(), DEPLOYMENT)
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.model == "sim/small"
    assert first.choices[0].message.content.startswith("[simulated by sim/small]")  # type: ignore[union-attr]
    other_seed = await SimProvider("sim", SimProviderConfig(seed=6)).complete(
        _request(), DEPLOYMENT
    )
    assert other_seed.choices[0].message.content != first.choices[0].message.content


async def test_stream_reassembles_to_the_complete_answer_with_usage() -> None:
    sim = SimProvider("sim", SimProviderConfig())
    whole = await sim.complete(_request(), DEPLOYMENT)
    chunks = [
        c
        async for c in sim.stream(
            _request(stream=True, stream_options=StreamOptions(include_usage=True)), DEPLOYMENT
        )
    ]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].usage == whole.usage
    assert chunks[-2].choices[0].finish_reason == "stop"


async def test_max_tokens_truncates_and_reports_length() -> None:
    sim = SimProvider("sim", SimProviderConfig(reply_tokens=100))
    reply = await sim.complete(_request(max_tokens=3), DEPLOYMENT)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 3


async def test_forced_tool_call_has_arguments_matching_the_schema() -> None:
    tool = Tool(
        function=FunctionDef(
            name="get_weather",
            parameters={
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city", "days"],
            },
        )
    )
    sim = SimProvider("sim", SimProviderConfig())
    reply = await sim.complete(
        _request("weather in Oslo?", tools=[tool], tool_choice="required"), DEPLOYMENT
    )
    call = reply.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert reply.choices[0].finish_reason == "tool_calls"
    arguments = json.loads(call.function.arguments)
    assert isinstance(arguments["city"], str)
    assert isinstance(arguments["days"], int)


async def test_json_schema_mode_returns_matching_json() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "tags"],
    }
    sim = SimProvider("sim", SimProviderConfig())
    reply = await sim.complete(
        _request(
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
        ),
        DEPLOYMENT,
    )
    body = json.loads(reply.choices[0].message.content or "")
    assert isinstance(body["name"], str)
    assert isinstance(body["tags"], list)


@pytest.mark.parametrize("kind", ["500", "503", "429", "timeout", "garbage"])
async def test_configured_faults_raise_upstream_errors(kind: str) -> None:
    sim = SimProvider("sim", SimProviderConfig(error_rate=1.0, error_kinds=(kind,)))  # type: ignore[arg-type]
    with pytest.raises(UpstreamError) as caught:
        await sim.complete(_request(), DEPLOYMENT)
    if kind.isdigit():
        assert isinstance(caught.value, UpstreamStatusError)
        assert caught.value.upstream_status == int(kind)


async def test_error_rate_is_roughly_respected() -> None:
    sim = SimProvider("sim", SimProviderConfig(error_rate=0.3))
    failures = 0
    for _ in range(1000):
        try:
            await sim.complete(_request(), DEPLOYMENT)
        except UpstreamError:
            failures += 1
    assert 200 < failures < 400


async def test_embeddings_put_similar_texts_closer() -> None:
    sim = SimProvider("sim", SimProviderConfig())
    reply = await sim.embed(
        EmbeddingRequest(
            model="e",
            input=["the cat sat on the mat", "a cat sat on a mat", "quarterly revenue grew"],
        ),
        DEPLOYMENT,
    )
    a, b, c = (item.embedding for item in reply.data)
    assert isinstance(a, list)
    assert isinstance(b, list)
    assert isinstance(c, list)

    def cosine(x: list[float], y: list[float]) -> float:
        return sum(i * j for i, j in zip(x, y, strict=True))

    assert cosine(a, b) > cosine(a, c) + 0.2
    assert reply.usage.prompt_tokens > 0
