"""Anthropic Messages wire format, front door: internal replies as an Anthropic message or
stream of events. The request side is in `wire.anthropic_request` (its parser is re-exported
here), the provider direction (proctor calling Anthropic) in `wire.anthropic_upstream` and
`wire.anthropic_replies`.
Pure functions over bytes and structs, no I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from proctor.errors import ProctorError
from proctor.wire.anthropic_request import parse_messages_request
from proctor.wire.sse import encode_event
from proctor.wire.types import (
    AssistantMessage,
    ChatChunk,
    ChatResponse,
    Delta,
    ToolCallDelta,
    Usage,
)

__all__ = [
    "anthropic_usage",
    "encode_message",
    "error_body",
    "parse_messages_request",
    "stop_reason",
    "stream_events",
    "tool_input",
]

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def stop_reason(finish_reason: str | None) -> str:
    # The internal form cannot say which stop sequence matched (OpenAI does not report
    # it), so a stop on a sequence reads as end_turn with stop_sequence null.
    return _STOP_REASONS.get(finish_reason or "stop", "end_turn")


def anthropic_usage(usage: Usage | None) -> dict[str, int]:
    """Anthropic's usage: its input_tokens exclude cache reads and writes, which OpenAI's
    prompt_tokens include."""
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0}
    cached, created = usage.cached_tokens, usage.cache_creation_tokens
    return {
        "input_tokens": max(0, usage.prompt_tokens - cached - created),
        "output_tokens": usage.completion_tokens,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": created,
    }


def tool_input(arguments: str) -> dict[str, Any]:
    """Tool-call arguments as an object; models do emit broken JSON, and Anthropic's
    `input` must be an object, so anything else becomes {}."""
    try:
        value = _decoder.decode(arguments)
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _message_id(internal_id: str) -> str:
    return (
        internal_id
        if internal_id.startswith("msg_")
        else "msg_" + internal_id.removeprefix("chatcmpl-")
    )


def encode_message(resp: ChatResponse, model: str) -> bytes:
    """An internal response as an Anthropic Message, named after the public model."""
    choice = resp.choices[0] if resp.choices else None
    message = choice.message if choice else AssistantMessage()
    content: list[dict[str, Any]] = []
    text = (message.content or "") + (message.refusal or "")
    if text:
        content.append({"type": "text", "text": text})
    for call in message.tool_calls or []:
        content.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.function.name,
                "input": tool_input(call.function.arguments),
            }
        )
    return _encoder.encode(
        {
            "id": _message_id(resp.id),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop_reason(choice.finish_reason if choice else None),
            "stop_sequence": None,
            "usage": anthropic_usage(resp.usage),
        }
    )


async def stream_events(chunks: AsyncIterator[ChatChunk], model: str) -> AsyncIterator[bytes]:
    """An internal chunk stream as Anthropic server-sent events."""
    writer = _EventWriter(model)
    async for chunk in chunks:
        for event in writer.chunk(chunk):
            yield event
    for event in writer.finish():
        yield event


class _EventWriter:
    """Turns OpenAI deltas into Anthropic content blocks: one text block per run of text,
    one tool_use block per tool-call index, each closed before the next one opens."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.started = False
        self.next_index = 0
        self.open_index: int | None = None
        self.open_is_text = False
        self.tool_blocks: dict[int, int] = {}  # OpenAI tool-call index -> block index
        self.finish_reason: str | None = None
        self.usage: Usage | None = None

    def chunk(self, chunk: ChatChunk) -> list[bytes]:
        if chunk.usage is not None:
            self.usage = chunk.usage
        out = [] if self.started else self._start(chunk.id)
        for choice in chunk.choices:
            if choice.index != 0:
                continue  # an Anthropic message carries one answer
            out += self._delta(choice.delta)
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
        return out

    def finish(self) -> list[bytes]:
        out = [] if self.started else self._start("")
        out += self._close()
        usage = anthropic_usage(self.usage)
        delta = {"stop_reason": stop_reason(self.finish_reason), "stop_sequence": None}
        out.append(_event("message_delta", delta=delta, usage=usage))
        out.append(_event("message_stop"))
        return out

    def _start(self, chunk_id: str) -> list[bytes]:
        self.started = True
        usage = anthropic_usage(self.usage)
        usage["output_tokens"] = 0
        message: dict[str, Any] = {
            "id": _message_id(chunk_id or uuid.uuid4().hex),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return [_event("message_start", message=message), _event("ping")]

    def _delta(self, delta: Delta) -> list[bytes]:
        out: list[bytes] = []
        text = (delta.content or "") + (delta.refusal or "")
        if text:
            if not self.open_is_text:
                out += self._open({"type": "text", "text": ""}, is_text=True)
            delta_body = {"type": "text_delta", "text": text}
            out.append(_event("content_block_delta", index=self.open_index, delta=delta_body))
        for call in delta.tool_calls or []:
            out += self._tool_delta(call)
        return out

    def _tool_delta(self, call: ToolCallDelta) -> list[bytes]:
        out: list[bytes] = []
        function = call.function
        block = self.tool_blocks.get(call.index)
        if block is None:
            head = {
                "type": "tool_use",
                "id": call.id or "toolu_" + uuid.uuid4().hex[:24],
                "name": (function.name if function else None) or "",
                "input": {},
            }
            out += self._open(head, is_text=False)
            block = self.tool_blocks[call.index] = self.next_index - 1  # the one just opened
        # A delta for an earlier, already closed call (upstreams that interleave calls)
        # still goes to that call's block: the Anthropic SDK accumulates by index.
        if function is not None and function.arguments:
            json_delta = {"type": "input_json_delta", "partial_json": function.arguments}
            out.append(_event("content_block_delta", index=block, delta=json_delta))
        return out

    def _open(self, block: dict[str, Any], *, is_text: bool) -> list[bytes]:
        out = self._close()
        self.open_index, self.open_is_text = self.next_index, is_text
        self.next_index += 1
        out.append(_event("content_block_start", index=self.open_index, content_block=block))
        return out

    def _close(self) -> list[bytes]:
        if self.open_index is None:
            return []
        index, self.open_index, self.open_is_text = self.open_index, None, False
        return [_event("content_block_stop", index=index)]


def _event(name: str, **fields: Any) -> bytes:
    return encode_event(name, _encoder.encode({"type": name, **fields}))


def error_body(error: ProctorError) -> bytes:
    return _encoder.encode(
        {"type": "error", "error": {"type": error.anthropic_type, "message": error.message}}
    )
