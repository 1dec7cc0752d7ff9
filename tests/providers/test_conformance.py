"""One suite, every adapter: the same requests and the same faults must mean the same thing.

HTTP adapters talk to the fake upstream over real loopback HTTP; faults are selected per
provider with the fake's `x-fake-fault` header, so tests never share fault state. The
simulator has no wire: it runs the same checks, with its own simulated faults.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from proctor.errors import (
    BadRequest,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
)
from proctor.providers.base import Provider
from proctor.wire.types import (
    ChatRequest,
    EmbeddingRequest,
    FunctionCall,
    FunctionDef,
    Message,
    StreamOptions,
    Tool,
    ToolCall,
)
from tests.fakes.upstream import FakeUpstream, answers, closed_port_url
from tests.providers.adapters import (
    ADAPTERS,
    DEPLOYMENT,
    Adapter,
    build,
    collect,
    finish_reasons,
    running,
    streamed_text,
    streamed_usage,
)

HTTP_ADAPTERS = [a for a in ADAPTERS if a.http]
PROMPT = "what is the capital of France"
WEATHER = Tool(
    function=FunctionDef(
        name="get_weather",
        parameters={
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    )
)
# Short enough that hang tests finish fast, long enough for a loopback answer.
SHORT_TIMEOUT_S = 0.5


def by_id(adapter: Adapter) -> str:
    return adapter.id


def chat(*, stream: bool = False, **fields: object) -> ChatRequest:
    return ChatRequest(
        model="chat",
        messages=[Message(role="user", content=PROMPT)],
        stream=stream,
        stream_options=StreamOptions(include_usage=True) if stream else None,
        **fields,  # type: ignore[arg-type]
    )


def forced_tool(*, stream: bool = False) -> ChatRequest:
    choice = {"type": "function", "function": {"name": "get_weather"}}
    return chat(stream=stream, tools=[WEATHER], tool_choice=choice)


@pytest.fixture(params=ADAPTERS, ids=by_id)
def adapter(request: pytest.FixtureRequest) -> Adapter:
    return request.param  # type: ignore[no-any-return]


async def test_complete(adapter: Adapter, fake_upstream: FakeUpstream) -> None:
    async with running(build(adapter, fake_upstream.url)) as provider:
        response = await provider.complete(chat(), DEPLOYMENT)
    choice = response.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content
    if adapter.http:
        assert choice.message.content == answers.answer_text(PROMPT)
    usage = response.usage
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


async def test_stream_reassembles_to_the_complete_answer(
    adapter: Adapter, fake_upstream: FakeUpstream
) -> None:
    async with running(build(adapter, fake_upstream.url)) as provider:
        whole = await provider.complete(chat(), DEPLOYMENT)
        chunks = await collect(provider, chat(stream=True))
    assert len(chunks) > 2, "a stream arrives in pieces"
    assert streamed_text(chunks) == whole.choices[0].message.content
    assert finish_reasons(chunks) == ["stop"]
    usage = streamed_usage(chunks)
    assert whole.usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        whole.usage.prompt_tokens,
        whole.usage.completion_tokens,
    )


@pytest.mark.parametrize("adapter", HTTP_ADAPTERS, ids=by_id)
async def test_stream_has_usage_even_when_the_client_did_not_ask(
    adapter: Adapter, fake_upstream: FakeUpstream
) -> None:
    request = chat(stream=True)
    request.stream_options = None
    async with running(build(adapter, fake_upstream.url)) as provider:
        chunks = await collect(provider, request)
    assert streamed_usage(chunks).completion_tokens > 0


@pytest.mark.parametrize("adapter", HTTP_ADAPTERS, ids=by_id)
async def test_cached_prompt_tokens_are_reported(
    adapter: Adapter, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.cached_tokens = 4
    async with running(build(adapter, fake_upstream.url)) as provider:
        whole = await provider.complete(chat(), DEPLOYMENT)
        chunks = await collect(provider, chat(stream=True))
    assert whole.usage is not None
    assert whole.usage.cached_tokens == 4
    assert streamed_usage(chunks).cached_tokens == 4


async def test_tool_call_round_trip(adapter: Adapter, fake_upstream: FakeUpstream) -> None:
    async with running(build(adapter, fake_upstream.url)) as provider:
        response = await provider.complete(forced_tool(), DEPLOYMENT)
        choice = response.choices[0]
        assert choice.finish_reason == "tool_calls"
        calls = choice.message.tool_calls
        assert calls is not None
        assert len(calls) == 1
        assert calls[0].function.name == "get_weather"
        arguments = json.loads(calls[0].function.arguments)
        assert isinstance(arguments["city"], str)

        follow_up = forced_tool()
        follow_up.messages = [
            *follow_up.messages,
            Message(
                role="assistant", tool_calls=[ToolCall(id=calls[0].id, function=calls[0].function)]
            ),
            Message(role="tool", tool_call_id=calls[0].id, content="sunny, 21 C"),
        ]
        follow_up.tool_choice = "auto"
        answer = await provider.complete(follow_up, DEPLOYMENT)
    assert answer.choices[0].finish_reason == "stop"
    assert answer.choices[0].message.content
    if adapter.http:
        assert answer.choices[0].message.content == answers.tool_result_text("sunny, 21 C")


async def test_streamed_tool_call_matches_the_complete_one(
    adapter: Adapter, fake_upstream: FakeUpstream
) -> None:
    async with running(build(adapter, fake_upstream.url)) as provider:
        whole = await provider.complete(forced_tool(), DEPLOYMENT)
        chunks = await collect(provider, forced_tool(stream=True))
    deltas = [t for chunk in chunks for c in chunk.choices for t in c.delta.tool_calls or []]
    assert deltas, "the tool call arrives as tool_calls deltas"
    assert {d.index for d in deltas} == {0}
    head = next(d for d in deltas if d.id is not None)
    assert head.function is not None
    streamed = FunctionCall(
        name=head.function.name or "",
        arguments="".join(d.function.arguments or "" for d in deltas if d.function),
    )
    calls = whole.choices[0].message.tool_calls
    assert calls is not None
    assert streamed.name == calls[0].function.name
    assert json.loads(streamed.arguments) == json.loads(calls[0].function.arguments)
    assert finish_reasons(chunks) == ["tool_calls"]


async def test_embeddings(adapter: Adapter, fake_upstream: FakeUpstream) -> None:
    request = EmbeddingRequest(model="embed", input=["first text", "second text"])
    async with running(build(adapter, fake_upstream.url)) as provider:
        if not adapter.embeddings:
            with pytest.raises(BadRequest):
                await provider.embed(request, DEPLOYMENT)
            return
        response = await provider.embed(request, DEPLOYMENT)
    assert [e.index for e in response.data] == [0, 1]
    assert response.usage.total_tokens > 0
    first, second = (e.embedding for e in response.data)
    assert isinstance(first, list)
    assert first != second
    if adapter.http:
        assert first == answers.embedding("first text")


# -- faults --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    fault: str  # the fake upstream's fault spec
    modes: tuple[str, ...]  # "complete", "stream"
    error: type[UpstreamError]
    status: int | None = None
    retry_after_s: float | None = None
    short_timeout: bool = False

    def __str__(self) -> str:
        return self.fault.replace(" ", ":")


BOTH = ("complete", "stream")
CASES = [
    *(Case(code, BOTH, UpstreamStatusError, int(code)) for code in ("400", "401", "404")),
    *(Case(code, BOTH, UpstreamStatusError, int(code)) for code in ("500", "503", "529")),
    Case("429 retry_after=2", BOTH, UpstreamStatusError, 429, retry_after_s=2.0),
    Case("503 retry_after_ms=1500", BOTH, UpstreamStatusError, 503, retry_after_s=1.5),
    Case("hang", BOTH, UpstreamTimeout, short_timeout=True),
    Case("stall", BOTH, UpstreamTimeout, short_timeout=True),
    Case("drop after=2", BOTH, UpstreamProtocolError),
    Case("truncated", ("complete",), UpstreamProtocolError),
    Case("disconnect", BOTH, UpstreamProtocolError),
    Case("malformed", BOTH, UpstreamProtocolError),
    Case("wrong_shape", BOTH, UpstreamProtocolError),
    Case("content_type", BOTH, UpstreamProtocolError),
    Case("stream_error after=3", ("stream",), UpstreamStatusError),
]
HTTP_CASES = [
    pytest.param(adapter, case, mode, id=f"{adapter.id}-{case}-{mode}")
    for adapter in HTTP_ADAPTERS
    for case in CASES
    for mode in case.modes
]


async def attempt(provider: Provider, mode: str) -> None:
    if mode == "stream":
        await collect(provider, chat(stream=True))
    else:
        await provider.complete(chat(), DEPLOYMENT)


@pytest.mark.parametrize(("adapter", "case", "mode"), HTTP_CASES)
async def test_fault_maps_to_the_right_error(
    adapter: Adapter, case: Case, mode: str, fake_upstream: FakeUpstream
) -> None:
    timeout = {"timeout_s": SHORT_TIMEOUT_S} if case.short_timeout else {}
    provider = build(adapter, fake_upstream.url, fault=case.fault, **timeout)
    async with running(provider):
        with pytest.raises(case.error) as caught:
            await attempt(provider, mode)
    error = caught.value
    assert error.provider == adapter.id
    assert adapter.id in error.message
    if isinstance(error, UpstreamStatusError):
        assert error.upstream_status == (case.status or error.upstream_status)
        assert error.upstream_status >= 400
        assert error.retry_after_s == case.retry_after_s
    assert len(fake_upstream.requests) == 1, "an adapter never retries on its own"


@pytest.mark.parametrize("adapter", HTTP_ADAPTERS, ids=by_id)
@pytest.mark.parametrize("mode", BOTH)
async def test_a_short_delay_is_not_a_fault(
    adapter: Adapter, mode: str, fake_upstream: FakeUpstream
) -> None:
    provider = build(adapter, fake_upstream.url, fault="delay seconds=0.05")
    async with running(provider):
        await attempt(provider, mode)


@pytest.mark.parametrize("adapter", HTTP_ADAPTERS, ids=by_id)
@pytest.mark.parametrize("mode", BOTH)
async def test_connection_refused(adapter: Adapter, mode: str) -> None:
    provider = build(adapter, closed_port_url())
    async with running(provider):
        with pytest.raises(UpstreamConnectionError) as caught:
            await attempt(provider, mode)
    assert caught.value.provider == adapter.id


SIM_FAULTS = [
    ("500", UpstreamStatusError),
    ("503", UpstreamStatusError),
    ("429", UpstreamStatusError),
    ("timeout", UpstreamTimeout),
    ("garbage", UpstreamProtocolError),
]


@pytest.mark.parametrize(("kind", "error"), SIM_FAULTS)
@pytest.mark.parametrize("mode", BOTH)
async def test_sim_faults_use_the_same_exceptions(
    kind: str, error: type[UpstreamError], mode: str
) -> None:
    sim = next(a for a in ADAPTERS if a.id == "sim")
    provider = build(sim, "", error_rate=1.0, error_kinds=(kind,))
    async with running(provider):
        with pytest.raises(error) as caught:
            await attempt(provider, mode)
    assert caught.value.provider == "sim"
