"""The Anthropic provider direction: internal requests out, Anthropic answers back in."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic.types
import pytest

from proctor.errors import BadRequest
from proctor.wire.anthropic import encode_message, parse_messages_request, stream_events
from proctor.wire.anthropic_replies import (
    AnthropicStreamError,
    AnthropicStreamTranslator,
    from_anthropic_response,
)
from proctor.wire.anthropic_upstream import to_anthropic_request
from proctor.wire.openai import RequestLimits, parse_chat_request
from proctor.wire.sse import SSEDecoder
from proctor.wire.types import ChatChunk, ChatRequest
from tests.wire.test_anthropic import accumulate

PNG = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}


def openai(**fields: Any) -> ChatRequest:
    body: dict[str, Any] = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
    body.update(fields)
    return parse_chat_request(json.dumps(body).encode(), RequestLimits())


def test_system_and_developer_messages_become_system() -> None:
    req = openai(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Be kind."}]},
            {"role": "user", "content": "hi"},
        ]
    )
    body = to_anthropic_request(req, "claude-x", 4096)
    assert body["model"] == "claude-x"
    assert body["system"] == "Be brief.\n\nBe kind."
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert body["max_tokens"] == 4096
    assert "stream" not in body


def test_tool_loop_and_merged_turns() -> None:
    req = openai(
        messages=[
            {"role": "user", "content": "weather?"},
            {"role": "user", "content": "in Paris and Rome"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}},
                    {"id": "c2", "type": "function", "function": {"name": "w", "arguments": "{"}},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "18C"},
            {"role": "tool", "tool_call_id": "c2", "content": ""},
            {"role": "user", "content": "thanks"},
            {"role": "assistant", "content": ""},
        ]
    )
    assert to_anthropic_request(req, "claude-x", 10)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "weather?"},
                {"type": "text", "text": "in Paris and Rome"},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "c1", "name": "w", "input": {}},
                {"type": "tool_use", "id": "c2", "name": "w", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "c2"},
                {"type": "text", "text": "thanks"},
            ],
        },
    ]


def test_images_and_files() -> None:
    content = [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}},
    ]
    body = to_anthropic_request(openai(messages=[{"role": "user", "content": content}]), "c", 1)
    assert body["messages"][0]["content"] == [
        {"type": "image", "source": PNG},
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
        },
    ]


def test_tools_sampling_and_pass_through() -> None:
    req = openai(
        tools=[
            {"type": "function", "function": {"name": "w", "description": "Weather."}},
            {"type": "function", "function": {"name": "t", "parameters": {"type": "object"}}},
        ],
        temperature=1.6,
        top_p=0.5,
        stop="END",
        user="u-1",
        max_completion_tokens=77,
        stream=True,
        seed=3,
        top_k=5,
        logprobs=True,
    )
    body = to_anthropic_request(req, "claude-x", 4096)
    assert body["tools"] == [
        {
            "name": "w",
            "description": "Weather.",
            "input_schema": {"type": "object", "properties": {}},
        },
        {"name": "t", "input_schema": {"type": "object"}},
    ]
    assert "tool_choice" not in body
    assert body["temperature"] == 1.0  # clamped to Anthropic's range
    assert (body["top_p"], body["stop_sequences"]) == (0.5, ["END"])
    assert body["metadata"] == {"user_id": "u-1"}
    assert (body["max_tokens"], body["stream"], body["top_k"]) == (77, True, 5)
    assert "logprobs" not in body
    assert "seed" not in body


TOOLS = [{"type": "function", "function": {"name": "f"}}]


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, None),
        ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ({"type": "function", "function": {"name": "f"}}, None, {"type": "tool", "name": "f"}),
    ],
)
def test_tool_choice(choice: Any, parallel: bool | None, expected: dict[str, Any] | None) -> None:
    fields: dict[str, Any] = {"tools": TOOLS, "tool_choice": choice}
    if parallel is not None:
        fields["parallel_tool_calls"] = parallel
    assert to_anthropic_request(openai(**fields), "c", 1).get("tool_choice") == expected


def test_response_format_becomes_an_instruction() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    body = to_anthropic_request(openai(response_format=fmt), "c", 1)
    assert "JSON" in body["system"]
    assert json.dumps(schema, separators=(",", ":")) in body["system"]
    body = to_anthropic_request(openai(response_format={"type": "json_object"}), "c", 1)
    assert "JSON object" in body["system"]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"n": 2}, "n"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages[0].role"),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "messages[0].content[0]",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]},
            "messages[0].content[0]",
        ),
        ({"tools": TOOLS, "tool_choice": {"type": "function"}}, "tool_choice"),
    ],
)
def test_requests_anthropic_cannot_take(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(BadRequest) as caught:
        to_anthropic_request(openai(**fields), "c", 1)
    assert caught.value.param == param
    assert param in caught.value.message


def test_anthropic_request_round_trips_through_the_internal_form() -> None:
    original = {
        "model": "claude-x",
        "max_tokens": 300,
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "t1", "name": "w", "input": {"c": "Paris"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "18C"},
                    {"type": "image", "source": PNG},
                ],
            },
        ],
        "tools": [{"name": "w", "description": "Weather.", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "stop_sequences": ["END"],
        "temperature": 0.3,
        "top_k": 7,
        "metadata": {"user_id": "u-1"},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    req = parse_messages_request(json.dumps(original).encode(), RequestLimits())
    assert to_anthropic_request(req, "claude-x", 4096) == original


MESSAGE: dict[str, Any] = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-x-2025",
    "content": [
        {"type": "thinking", "thinking": "hm", "signature": "s"},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"c": "Paris"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 30,
        "output_tokens": 9,
        "cache_read_input_tokens": 60,
        "cache_creation_input_tokens": 10,
    },
}


def test_from_anthropic_response() -> None:
    resp = from_anthropic_response(MESSAGE)
    assert (resp.id, resp.model) == ("msg_1", "claude-x-2025")
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Checking."
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "toolu_1",
        "w",
        {"c": "Paris"},
    )
    usage = resp.usage
    assert usage is not None
    # prompt_tokens in the OpenAI sense include cache reads and writes.
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (100, 9, 109)
    assert (usage.cached_tokens, usage.cache_creation_tokens) == (60, 10)


def test_message_round_trips_through_the_internal_form() -> None:
    body = encode_message(from_anthropic_response(MESSAGE), "claude-x-2025")
    message = anthropic.types.Message.model_validate_json(body)
    expected = {k: v for k, v in MESSAGE.items() if v is not None}
    expected["content"] = MESSAGE["content"][1:]  # thinking is not carried
    assert message.model_dump(exclude_none=True) == expected


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("brand_new", "stop"),
        (None, "stop"),
    ],
)
def test_finish_reasons(stop_reason: str | None, finish: str) -> None:
    body = {**MESSAGE, "stop_reason": stop_reason}
    assert from_anthropic_response(body).choices[0].finish_reason == finish


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        [],
        "message",
        {"id": "msg_1"},
        {**MESSAGE, "content": "text"},
        {**MESSAGE, "type": "error"},
        {**MESSAGE, "usage": {"input_tokens": "many"}},
        {**MESSAGE, "content": [{"type": "tool_use", "input": {}}]},
        {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
    ],
)
def test_garbage_response_is_a_value_error(garbage: Any) -> None:
    with pytest.raises(ValueError, match=r"."):
        from_anthropic_response(garbage)


def sse(name: str, **data: Any) -> tuple[str, dict[str, Any]]:
    return name, {"type": name, **data}


def delta(index: Any, **body: Any) -> tuple[str, dict[str, Any]]:
    return sse("content_block_delta", index=index, delta=body)


START = sse(
    "message_start",
    message={
        "id": "msg_s",
        "type": "message",
        "role": "assistant",
        "model": "claude-x-2025",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 20, "output_tokens": 1, "cache_read_input_tokens": 5},
    },
)
EVENTS = [
    START,
    sse("content_block_start", index=0, content_block={"type": "thinking", "thinking": ""}),
    delta(0, type="thinking_delta", thinking="hmm"),
    delta(0, type="signature_delta", signature="sig"),
    sse("content_block_stop", index=0),
    sse("content_block_start", index=1, content_block={"type": "text", "text": ""}),
    sse("ping"),
    delta(1, type="text_delta", text="Let me "),
    delta(1, type="text_delta", text="check."),
    sse("content_block_stop", index=1),
    sse(
        "content_block_start",
        index=2,
        content_block={"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}},
    ),
    delta(2, type="input_json_delta", partial_json=""),
    delta(2, type="input_json_delta", partial_json='{"c": "Par'),
    delta(2, type="input_json_delta", partial_json='is"}'),
    sse("content_block_stop", index=2),
    sse(
        "content_block_start",
        index=3,
        content_block={"type": "tool_use", "id": "toolu_2", "name": "t", "input": {}},
    ),
    delta(3, type="input_json_delta", partial_json="{}"),
    sse("content_block_stop", index=3),
    sse("message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 42}),
    sse("message_stop"),
]


def translate(events: list[tuple[str, dict[str, Any]]]) -> list[ChatChunk]:
    translator = AnthropicStreamTranslator()
    chunks = [c for name, data in events for c in translator.feed(name, data)]
    assert translator.done == (events[-1][0] == "message_stop")
    return chunks


def test_stream_translation() -> None:
    chunks = translate(EVENTS)
    assert all(c.id == "msg_s" and c.model == "claude-x-2025" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Let me check."
    calls = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or []]
    heads = [(t.index, t.id, t.function.name if t.function else None) for t in calls if t.id]
    assert heads == [(0, "toolu_1", "w"), (1, "toolu_2", "t")]
    args = [t.function.arguments for t in calls if t.index == 0 and t.function]
    assert "".join(a or "" for a in args) == '{"c": "Paris"}'
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    final = chunks[-1]
    assert final.choices == []
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (25, 42)
    assert (final.usage.cached_tokens, final.usage.cache_creation_tokens) == (5, 0)


async def test_stream_round_trips_to_anthropic_events() -> None:
    async def chunks() -> AsyncIterator[ChatChunk]:
        for item in translate(EVENTS):
            yield item

    raw = b"".join([event async for event in stream_events(chunks(), "claude-x-2025")])
    decoder = SSEDecoder()
    events = [(e.event, json.loads(e.data)) for e in decoder.feed(raw) + decoder.flush()]
    message = accumulate(events)
    assert message.id == "msg_s"
    assert [block.model_dump(exclude_none=True) for block in message.content] == [
        {"type": "text", "text": "Let me check."},  # the thinking block is not carried
        {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"c": "Paris"}},
        {"type": "tool_use", "id": "toolu_2", "name": "t", "input": {}},
    ]
    assert message.stop_reason == "tool_use"
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (20, 5, 42)


def test_cumulative_usage_in_message_delta_overwrites() -> None:
    late = sse(
        "message_delta",
        delta={"stop_reason": "end_turn"},
        usage={"output_tokens": 3, "input_tokens": 50, "cache_creation_input_tokens": 7},
    )
    final = translate([START, late, sse("message_stop")])[-1]
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (62, 3)
    assert (final.usage.cached_tokens, final.usage.cache_creation_tokens) == (5, 7)


def test_error_event_raises() -> None:
    error = sse("error", error={"type": "overloaded_error", "message": "Overloaded"})
    with pytest.raises(AnthropicStreamError) as caught:
        translate([START, error])
    assert (caught.value.error_type, caught.value.message) == ("overloaded_error", "Overloaded")


@pytest.mark.parametrize(
    "events",
    [
        [sse("content_block_start", index=0, content_block={"type": "text", "text": ""})],
        [sse("message_start", message={"model": "x"})],
        [START, sse("content_block_start", index=0)],
        [START, sse("content_block_start", index=0, content_block={"type": "tool_use"})],
        [START, delta("zero", type="text_delta", text="x")],
        [START, sse("message_delta", delta={"stop_reason": 5})],
    ],
)
def test_malformed_events_are_value_errors(events: list[tuple[str, dict[str, Any]]]) -> None:
    with pytest.raises(ValueError, match=r"."):
        translate(events)


def test_unknown_events_and_server_tool_blocks_are_ignored() -> None:
    server_tool = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search"}
    events = [
        START,
        sse("ping"),
        sse("some_future_event", x=1),
        sse("content_block_start", index=0, content_block=server_tool),
        delta(0, type="input_json_delta", partial_json='{"query": "x"}'),
        sse("content_block_stop", index=0),
    ]
    assert translate(events)[1:] == []
