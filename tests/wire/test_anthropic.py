"""The Anthropic front door: Messages requests in, Anthropic messages and events out.

Shapes are checked against the official `anthropic` SDK's own types and stream accumulator.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic.types
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from pydantic import TypeAdapter

from proctor.errors import BadRequest
from proctor.wire.anthropic import encode_message, parse_messages_request, stream_events
from proctor.wire.openai import RequestLimits
from proctor.wire.sse import SSEDecoder
from proctor.wire.types import (
    AssistantMessage,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    ChunkChoice,
    Delta,
    FunctionCall,
    FunctionCallDelta,
    PromptTokensDetails,
    ToolCall,
    ToolCallDelta,
    Usage,
)

LIMITS = RequestLimits(max_messages=5)
USER_HI = [{"role": "user", "content": "hi"}]
PNG = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}


def parse(**fields: Any) -> ChatRequest:
    body: dict[str, Any] = {"model": "claude-x", "max_tokens": 100, "messages": USER_HI}
    body.update(fields)
    return parse_messages_request(json.dumps(body).encode(), LIMITS)


def test_minimal_request() -> None:
    req = parse()
    assert req.model == "claude-x"
    assert req.max_tokens == 100
    assert [(m.role, m.content) for m in req.messages] == [("user", "hi")]
    assert not req.stream
    assert req.stream_options is None
    assert req.extra == {}


def test_system_sampling_metadata_and_unknown_fields() -> None:
    req = parse(
        system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
        temperature=0.5,
        top_p=0.9,
        top_k=40,
        stop_sequences=["END"],
        stream=True,
        metadata={"user_id": "u-1", "feature": "search"},
        thinking={"type": "enabled", "budget_tokens": 2048},
    )
    assert (req.messages[0].role, req.messages[0].content) == ("system", "Be brief.\n\nBe kind.")
    assert (req.temperature, req.top_p, req.stop) == (0.5, 0.9, ["END"])
    assert req.stream
    assert req.stream_options is not None
    assert req.stream_options.include_usage
    assert req.user == "u-1"
    assert req.metadata == {"user_id": "u-1", "feature": "search"}
    assert req.extra == {"top_k": 40, "thinking": {"type": "enabled", "budget_tokens": 2048}}


def test_system_string() -> None:
    assert parse(system="You are terse.").messages[0].content == "You are terse."


def test_images_and_documents_become_openai_parts() -> None:
    content = [
        {"type": "text", "text": "what is this?", "cache_control": {"type": "ephemeral"}},
        {"type": "image", "source": PNG},
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
        {"type": "document", "source": {**PNG, "media_type": "application/pdf"}, "title": "r"},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "d"}},
    ]
    req = parse(messages=[{"role": "user", "content": content}])
    assert req.messages[0].content == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
        {
            "type": "file",
            "file": {"filename": "r", "file_data": "data:application/pdf;base64,iVBORw0KGgo="},
        },
        {"type": "text", "text": "d"},
    ]


def test_tool_loop_translates_to_tool_calls_and_tool_messages() -> None:
    messages = [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "two calls", "signature": "s"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"c": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {"c": "Rome"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "is_error": True,
                    "content": [
                        {"type": "text", "text": "no data"},
                        {"type": "image", "source": PNG},
                    ],
                },
                {"type": "text", "text": "and tomorrow?"},
            ],
        },
    ]
    req = parse(messages=messages)
    _user, assistant, first, second, rest = req.messages
    assert assistant.role == "assistant"
    assert assistant.content == "Checking."
    assert assistant.tool_calls == [
        ToolCall(id="toolu_1", function=FunctionCall("weather", '{"c":"Paris"}')),
        ToolCall(id="toolu_2", function=FunctionCall("weather", '{"c":"Rome"}')),
    ]
    assert (first.role, first.tool_call_id, first.content) == ("tool", "toolu_1", "18C")
    assert (second.tool_call_id, second.content) == ("toolu_2", "Error: no data")
    # The image inside the tool result, and the text after the results, follow as a user turn.
    assert rest.role == "user"
    assert rest.content == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "text", "text": "and tomorrow?"},
    ]


def test_assistant_with_only_tool_use_has_no_content() -> None:
    tool_use = {"type": "tool_use", "id": "t", "name": "f", "input": {}}
    req = parse(messages=[*USER_HI, {"role": "assistant", "content": [tool_use]}])
    assert req.messages[1].content is None
    assert req.messages[1].tool_calls is not None


def test_tools() -> None:
    schema = {"type": "object", "properties": {"c": {"type": "string"}}}
    req = parse(tools=[{"name": "weather", "description": "Weather.", "input_schema": schema}])
    assert req.tools is not None
    function = req.tools[0].function
    assert (function.name, function.description, function.parameters) == (
        "weather",
        "Weather.",
        schema,
    )


@pytest.mark.parametrize(
    ("choice", "tool_choice", "parallel"),
    [
        ({"type": "auto"}, "auto", None),
        ({"type": "any"}, "required", None),
        ({"type": "none"}, "none", None),
        ({"type": "tool", "name": "f"}, {"type": "function", "function": {"name": "f"}}, None),
        ({"type": "any", "disable_parallel_tool_use": True}, "required", False),
    ],
)
def test_tool_choice(choice: dict[str, Any], tool_choice: Any, parallel: bool | None) -> None:
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    req = parse(tools=tools, tool_choice=choice)
    assert (req.tool_choice, req.parallel_tool_calls) == (tool_choice, parallel)


def test_tool_choice_without_tools_is_dropped() -> None:
    req = parse(tool_choice={"type": "any", "disable_parallel_tool_use": True})
    assert (req.tool_choice, req.parallel_tool_calls) == (None, None)


TOOL_USE = {"type": "tool_use", "id": "t", "name": "f", "input": {}}
BAD_FIELDS = [
    ({"max_tokens": None}, "max_tokens"),
    ({"model": None}, "model"),
    ({"messages": None}, "messages"),
    ({"max_tokens": "ten"}, "max_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"model": ""}, "model"),
    ({"messages": []}, "messages"),
    ({"messages": USER_HI * 6}, "messages"),
    ({"messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user"}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
    (
        {"messages": [{"role": "user", "content": [{"type": "video"}]}]},
        "messages[0].content[0].type",
    ),
    (
        {"messages": [{"role": "user", "content": [{"type": "text"}]}]},
        "messages[0].content[0].text",
    ),
    ({"messages": [{"role": "user", "content": [TOOL_USE]}]}, "messages[0].content[0]"),
    (
        {"messages": [{"role": "assistant", "content": [{"type": "image", "source": PNG}]}]},
        "messages[0].content[0]",
    ),
    (
        {
            "messages": [
                {"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}
            ]
        },
        "messages[0].content[0].source",
    ),
    (
        {
            "messages": [
                {"role": "user", "content": [{"type": "image", "source": {"type": "base64"}}]}
            ]
        },
        "messages[0].content[0].source",
    ),
    (
        {"messages": [{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]},
        "messages[0].content[0].tool_use_id",
    ),
    ({"system": 7}, "system"),
    ({"system": [{"type": "image", "source": PNG}]}, "system[0].type"),
    ({"stop_sequences": "END"}, "stop_sequences"),
    ({"temperature": 1.5}, "temperature"),
    ({"top_p": 2}, "top_p"),
    ({"top_k": 0}, "top_k"),
    ({"stream": "yes"}, "stream"),
    ({"metadata": "u"}, "metadata"),
    ({"tools": [{"input_schema": {}}]}, "tools[0].name"),
    ({"tools": [{"name": "f"}]}, "tools[0].input_schema"),
    ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
    ({"tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
    ({"tool_choice": {"type": "tool"}}, "tool_choice.name"),
]


@pytest.mark.parametrize(("fields", "param"), BAD_FIELDS)
def test_bad_input_names_the_field(fields: dict[str, Any], param: str) -> None:
    body: dict[str, Any] = {"model": "claude-x", "max_tokens": 100, "messages": USER_HI}
    body.update(fields)
    body = {k: v for k, v in body.items() if v is not None}
    with pytest.raises(BadRequest) as caught:
        parse_messages_request(json.dumps(body).encode(), LIMITS)
    assert caught.value.param == param
    # Anthropic's error body carries no `param`: the message itself must say where to look.
    for segment in param.split("."):
        assert segment in caught.value.message


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'"text"'])
def test_body_that_is_not_an_object(body: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_messages_request(body, LIMITS)


def response(
    message: AssistantMessage, finish: str | None = "stop", usage: Usage | None = None
) -> ChatResponse:
    return ChatResponse("chatcmpl-abc", 0, "gpt-x", [Choice(0, message, finish)], usage=usage)


def test_encode_text_message_parses_as_sdk_message() -> None:
    usage = Usage(12, 5, 17)
    body = encode_message(response(AssistantMessage(content="Hello!"), usage=usage), "chat")
    message = anthropic.types.Message.model_validate_json(body)
    assert message.id == "msg_abc"
    assert message.model == "chat"
    assert message.role == "assistant"
    assert [block.model_dump() for block in message.content] == [
        {"type": "text", "text": "Hello!", "citations": None}
    ]
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 5)


def test_encode_tool_calls_parses_arguments_into_input() -> None:
    calls = [
        ToolCall(id="call_1", function=FunctionCall("weather", '{"c": "Paris"}')),
        ToolCall(id="call_2", function=FunctionCall("broken", '{"c": ')),
        ToolCall(id="call_3", function=FunctionCall("listy", "[1]")),
    ]
    body = encode_message(response(AssistantMessage(tool_calls=calls), "tool_calls"), "chat")
    message = anthropic.types.Message.model_validate_json(body)
    assert message.stop_reason == "tool_use"
    blocks = [block for block in message.content if block.type == "tool_use"]
    assert [(b.id, b.name, b.input) for b in blocks] == [
        ("call_1", "weather", {"c": "Paris"}),
        ("call_2", "broken", {}),
        ("call_3", "listy", {}),
    ]


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
        ("something_new", "end_turn"),
    ],
)
def test_stop_reasons(finish: str | None, stop_reason: str) -> None:
    body = encode_message(response(AssistantMessage(content="x"), finish), "chat")
    assert anthropic.types.Message.model_validate_json(body).stop_reason == stop_reason


def test_cached_tokens_are_taken_out_of_input_tokens() -> None:
    # OpenAI's prompt_tokens include cache reads and writes; Anthropic's input_tokens do not.
    details = PromptTokensDetails(cached_tokens=60, cache_creation_tokens=10)
    usage = Usage(100, 7, 107, prompt_tokens_details=details)
    body = encode_message(response(AssistantMessage(content="x"), usage=usage), "chat")
    sdk_usage = anthropic.types.Message.model_validate_json(body).usage
    assert sdk_usage.input_tokens == 30
    assert sdk_usage.cache_read_input_tokens == 60
    assert sdk_usage.cache_creation_input_tokens == 10
    assert sdk_usage.output_tokens == 7


def test_refusal_and_empty_response() -> None:
    refused = encode_message(response(AssistantMessage(refusal="No."), "content_filter"), "m")
    message = anthropic.types.Message.model_validate_json(refused)
    assert message.content[0].type == "text"
    assert message.content[0].text == "No."
    empty = ChatResponse("chatcmpl-e", 0, "gpt-x", [])
    assert anthropic.types.Message.model_validate_json(encode_message(empty, "m")).content == []


# Streams.
def chunk(delta: Delta, finish: str | None = None) -> ChatChunk:
    return ChatChunk("chatcmpl-s1", 0, "gpt-x", [ChunkChoice(0, delta, finish)])


def usage_chunk(usage: Usage) -> ChatChunk:
    return ChatChunk("chatcmpl-s1", 0, "gpt-x", [], usage=usage)


def call(index: int, id: str | None = None, name: str | None = None, args: str = "") -> Delta:
    function = FunctionCallDelta(name=name, arguments=args)
    return Delta(tool_calls=[ToolCallDelta(index, id, "function" if id else None, function)])


async def _iterate(chunks: list[ChatChunk]) -> AsyncIterator[ChatChunk]:
    for item in chunks:
        yield item


async def events_of(chunks: list[ChatChunk]) -> list[tuple[str | None, dict[str, Any]]]:
    raw = b"".join([event async for event in stream_events(_iterate(chunks), "chat")])
    decoder = SSEDecoder()
    events = decoder.feed(raw) + decoder.flush()
    return [(event.event, json.loads(event.data)) for event in events]


_EVENT = TypeAdapter(anthropic.types.RawMessageStreamEvent)


def accumulate(events: list[tuple[str | None, dict[str, Any]]]) -> anthropic.types.Message:
    """Assemble the stream the way the Anthropic SDK does, validating every event."""
    snapshot: Any = None
    buffers: dict[int, bytes] = {}
    for name, data in events:
        assert name == data["type"]
        if name != "ping":
            event = _EVENT.validate_python(data)
            snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=buffers)
    return anthropic.types.Message.model_validate(snapshot.model_dump())


async def test_text_stream_event_sequence() -> None:
    details = PromptTokensDetails(cached_tokens=4)
    chunks = [
        chunk(Delta(role="assistant", content="")),
        chunk(Delta(content="Hel")),
        chunk(Delta(content="lo")),
        chunk(Delta(), "stop"),
        usage_chunk(Usage(10, 2, 12, prompt_tokens_details=details)),
    ]
    events = await events_of(chunks)
    assert [name for name, _ in events] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[0][1]["message"]["usage"]["input_tokens"] == 0  # not known yet
    message = accumulate(events)
    assert message.id == "msg_s1"
    assert message.model == "chat"
    assert [(b.type, getattr(b, "text", None)) for b in message.content] == [("text", "Hello")]
    assert message.stop_reason == "end_turn"
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (6, 4, 2)


async def test_parallel_tool_calls_stream_as_separate_blocks() -> None:
    chunks = [
        chunk(Delta(role="assistant")),
        chunk(call(0, "call_a", "weather")),
        chunk(call(0, args='{"c": ')),
        chunk(call(0, args='"Paris"}')),
        chunk(call(1, "call_b", "time", '{"tz": "CET"}')),
        chunk(Delta(), "tool_calls"),
    ]
    events = await events_of(chunks)
    starts = [data for name, data in events if name == "content_block_start"]
    assert [(s["index"], s["content_block"]["id"]) for s in starts] == [
        (0, "call_a"),
        (1, "call_b"),
    ]
    message = accumulate(events)
    assert [(b.type, getattr(b, "input", None)) for b in message.content] == [
        ("tool_use", {"c": "Paris"}),
        ("tool_use", {"tz": "CET"}),
    ]
    assert message.stop_reason == "tool_use"


async def test_text_then_tool_call_then_more_text() -> None:
    chunks = [
        chunk(Delta(content="Let me check.")),
        chunk(call(0, "call_a", "weather", "{}")),
        chunk(Delta(content="Done.")),
        chunk(Delta(), "tool_calls"),
    ]
    events = await events_of(chunks)
    stops = [data["index"] for name, data in events if name == "content_block_stop"]
    assert stops == [0, 1, 2]  # each block closed before the next one opens
    message = accumulate(events)
    assert [b.type for b in message.content] == ["text", "tool_use", "text"]
    assert message.content[0].type == "text"
    assert message.content[0].text == "Let me check."


async def test_tool_call_without_id_gets_one() -> None:
    events = await events_of([chunk(call(0, None, "f", '{"a": 1}')), chunk(Delta(), "tool_calls")])
    message = accumulate(events)
    block = message.content[0]
    assert block.type == "tool_use"
    assert block.id.startswith("toolu_")
    assert block.input == {"a": 1}


async def test_empty_stream_is_still_a_valid_message() -> None:
    events = await events_of([])
    assert [name for name, _ in events] == [
        "message_start",
        "ping",
        "message_delta",
        "message_stop",
    ]
    assert accumulate(events).content == []


async def test_choices_other_than_the_first_are_ignored() -> None:
    other = ChatChunk("c", 0, "m", [ChunkChoice(1, Delta(content="B"), None)])
    events = await events_of([chunk(Delta(content="A")), other, chunk(Delta(), "length")])
    message = accumulate(events)
    assert [getattr(b, "text", None) for b in message.content] == ["A"]
    assert message.stop_reason == "max_tokens"
