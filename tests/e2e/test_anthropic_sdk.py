"""The official `anthropic` SDK against proctor's /v1/messages, answered by the simulator.

Written against the Messages API as Anthropic documents it: whatever deployment serves the
model, an Anthropic client must see Anthropic's shapes (content blocks, stop reasons, usage,
the SSE event sequence, the error envelope).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.gateway_server import ServerThread, running_gateway, sim_config
from tests.thread_safe_logs import one_line_server_tracebacks

one_line_server_tracebacks()  # see tests/thread_safe_logs.py

pytestmark = pytest.mark.e2e

MODEL = "sim-small"
HELLO: list[Any] = [{"role": "user", "content": "Hello there"}]
WEATHER_TOOL: Any = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city", "unit"],
    },
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with running_gateway(sim_config(tmp_path_factory.mktemp("anthropic-sdk"))) as running:
        yield running


@pytest.fixture
def client(server: ServerThread) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=server.url, api_key="sk-ant-test", max_retries=0, timeout=60
    ) as sdk:
        yield sdk


def async_client(server: ServerThread) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=server.url, api_key="sk-ant-test", max_retries=0, timeout=60
    )


def _text(message: Any) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


# -- messages ---------------------------------------------------------------------------


def test_create_message(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=MODEL, max_tokens=256, messages=HELLO)
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.id
    assert message.stop_reason == "end_turn"
    assert [block.type for block in message.content] == ["text"]
    assert _text(message).startswith("[simulated by sim/small]")
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0


def test_max_tokens_stop_reason(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=MODEL, max_tokens=3, messages=HELLO)
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens <= 3


def test_multi_turn_with_content_blocks(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=128,
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "First question"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "First answer"}]},
            {"role": "user", "content": [{"type": "text", "text": "Second question"}]},
        ],
    )
    assert "Second question" in _text(message)


def test_system_prompt_reaches_the_model(client: anthropic.Anthropic) -> None:
    system = "You are a meticulous assistant who answers in exactly three short sentences."
    plain = client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    with_system = client.messages.create(model=MODEL, max_tokens=64, messages=HELLO, system=system)
    as_blocks = client.messages.create(
        model=MODEL, max_tokens=64, messages=HELLO, system=[{"type": "text", "text": system}]
    )
    # The simulator counts every message it is given, so a system prompt costs input tokens.
    assert with_system.usage.input_tokens > plain.usage.input_tokens
    assert as_blocks.usage.input_tokens == with_system.usage.input_tokens


def test_unknown_fields_pass_through(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL, max_tokens=64, messages=HELLO, extra_body={"vendor_knob": {"depth": 3}}
    )
    assert _text(message)


def test_response_headers(client: anthropic.Anthropic) -> None:
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert raw.headers["x-request-id"].startswith("req_")
    assert raw.headers["x-proctor-model"] == "sim/small"
    assert raw.headers["x-proctor-attempts"] == "1"
    assert "total;dur=" in raw.headers["server-timing"]
    assert raw.parse().type == "message"


async def test_async_create(server: ServerThread) -> None:
    async with async_client(server) as client:
        message = await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert message.stop_reason == "end_turn"
    assert _text(message).startswith("[simulated by sim/small]")


# -- streaming --------------------------------------------------------------------------


def test_stream_text_and_final_message(client: anthropic.Anthropic) -> None:
    whole = client.messages.create(model=MODEL, max_tokens=256, messages=HELLO)
    with client.messages.stream(model=MODEL, max_tokens=256, messages=HELLO) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed == _text(whole)
    assert _text(final) == streamed
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


def test_stream_event_sequence(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream:
        kinds = [event.type for event in stream]
    raw = [k for k in kinds if k not in ("text", "input_json", "citation", "thinking", "signature")]
    assert raw[0] == "message_start"
    assert raw[1] == "content_block_start"
    assert "content_block_delta" in raw
    assert raw[-3:] == ["content_block_stop", "message_delta", "message_stop"]


def test_raw_sse_is_anthropic_shaped(server: ServerThread) -> None:
    body = {"model": MODEL, "max_tokens": 32, "stream": True, "messages": HELLO}
    with httpx.Client(timeout=60) as http:
        reply = http.post(server.url + "/v1/messages", json=body)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    events: list[tuple[str, dict[str, Any]]] = []
    for block in reply.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        data = json.loads(lines["data"])
        assert data["type"] == lines["event"]
        events.append((lines["event"], data))
    assert "[DONE]" not in reply.text
    assert events[0][0] == "message_start"
    assert events[0][1]["message"]["role"] == "assistant"
    assert events[-1][0] == "message_stop"
    delta = next(data for kind, data in events if kind == "message_delta")
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] > 0


async def test_async_stream(server: ServerThread) -> None:
    async with (
        async_client(server) as client,
        client.messages.stream(model=MODEL, max_tokens=128, messages=HELLO) as stream,
    ):
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert len(pieces) > 1
    assert _text(final) == "".join(pieces)


# -- tools ------------------------------------------------------------------------------


def test_forced_tool_use_then_tool_result(client: anthropic.Anthropic) -> None:
    question: list[Any] = [{"role": "user", "content": "What should I wear in Paris today?"}]
    first = client.messages.create(
        model=MODEL,
        max_tokens=256,
        messages=question,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "tool", "name": "get_weather"},
    )
    assert first.stop_reason == "tool_use"
    uses = [block for block in first.content if block.type == "tool_use"]
    assert len(uses) == 1
    use = uses[0]
    assert use.name == "get_weather"
    assert use.id
    assert isinstance(use.input, dict)
    assert isinstance(use.input["city"], str)
    assert use.input["unit"] in ("celsius", "fahrenheit")

    # As Anthropic documents it: the assistant turn is the response's content, as is.
    follow_up: list[Any] = [
        *question,
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": use.id,
                    "content": '{"temp_c": 21, "sky": "clear"}',
                }
            ],
        },
    ]
    second = client.messages.create(
        model=MODEL, max_tokens=256, tools=[WEATHER_TOOL], messages=follow_up
    )
    assert second.stop_reason == "end_turn"
    assert [block.type for block in second.content] == ["text"]
    assert _text(second)


def test_tool_choice_any_calls_a_tool(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=256,
        messages=HELLO,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "any"},
    )
    assert message.stop_reason == "tool_use"
    assert any(block.type == "tool_use" for block in message.content)


def test_streamed_tool_use_assembles_input(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL,
        max_tokens=256,
        messages=[{"role": "user", "content": "weather in Rome?"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "tool", "name": "get_weather"},
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    use = next(block for block in final.content if block.type == "tool_use")
    assert use.name == "get_weather"
    assert set(use.input) == {"city", "unit"}


# -- errors -----------------------------------------------------------------------------


def test_unknown_model_is_not_found_error(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(model="claude-nonexistent", max_tokens=16, messages=HELLO)
    error = caught.value
    assert error.status_code == 404
    assert error.type == "not_found_error"
    assert error.body == {
        "type": "error",
        "error": {"type": "not_found_error", "message": error.api_message},
    }
    assert "claude-nonexistent" in (error.api_message or "")


@pytest.mark.parametrize(
    ("kwargs", "mentions"),
    [
        ({"max_tokens": 16, "messages": []}, "messages"),
        ({"max_tokens": 0, "messages": HELLO}, "max_tokens"),
        ({"max_tokens": -1, "messages": HELLO}, "max_tokens"),
        ({"max_tokens": 16, "messages": [{"role": "wizard", "content": "hi"}]}, "role"),
        ({"max_tokens": 16, "messages": [{"role": "user", "content": [{"text": "x"}]}]}, "type"),
    ],
)
def test_bad_input_is_bad_request_error(
    client: anthropic.Anthropic, kwargs: dict[str, Any], mentions: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=MODEL, **kwargs)
    error = caught.value
    assert error.status_code == 400
    assert error.type == "invalid_request_error"
    assert isinstance(error.body, dict)
    assert error.body["type"] == "error"
    assert set(error.body["error"]) >= {"type", "message"}
    assert mentions in (error.api_message or "")


def test_missing_max_tokens_is_bad_request_error(server: ServerThread) -> None:
    with httpx.Client(timeout=60) as http:
        reply = http.post(server.url + "/v1/messages", json={"model": MODEL, "messages": HELLO})
    assert reply.status_code == 400
    body = reply.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]


async def test_async_errors(server: ServerThread) -> None:
    async with async_client(server) as client:
        with pytest.raises(anthropic.NotFoundError):
            await client.messages.create(model="claude-nonexistent", max_tokens=16, messages=HELLO)
        with pytest.raises(anthropic.BadRequestError):
            await client.messages.create(model=MODEL, max_tokens=16, messages=[])
