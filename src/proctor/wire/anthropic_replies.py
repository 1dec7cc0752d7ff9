"""Anthropic Messages wire format, provider direction: Anthropic's answers, whole or
streamed, back in the internal (OpenAI-shaped) form.

Pure: the adapter in `providers.anthropic` does the I/O. Shapes that are not Anthropic's
raise ValueError, which the adapter reports as the provider's protocol error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import msgspec

from proctor.wire.anthropic_upstream import json_text
from proctor.wire.types import (
    AssistantMessage,
    ChatChunk,
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


# Response shapes.
class _Usage(msgspec.Struct, frozen=True):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None

    def merge(self, later: _Usage) -> _Usage:
        """Counts on a message_delta are cumulative: present ones overwrite."""
        present = {k: v for k, v in msgspec.structs.asdict(later).items() if v is not None}
        return msgspec.structs.replace(self, **present)

    def internal(self) -> Usage:
        """OpenAI's prompt_tokens count cache reads and writes; Anthropic's input_tokens
        do not, so they are added back."""
        read = self.cache_read_input_tokens or 0
        created = self.cache_creation_input_tokens or 0
        prompt = (self.input_tokens or 0) + read + created
        completion = self.output_tokens or 0
        details = PromptTokensDetails(cached_tokens=read, cache_creation_tokens=created or None)
        return Usage(prompt, completion, prompt + completion, prompt_tokens_details=details)


class _Block(msgspec.Struct):
    type: str
    text: str | None = None
    id: str | None = None
    name: str | None = None
    input: Any = None


class _Message(msgspec.Struct):
    id: str
    content: list[_Block]
    model: str = ""
    type: Literal["message"] = "message"
    stop_reason: str | None = None
    usage: _Usage = _Usage()


_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: str | None) -> str | None:
    return _FINISH_REASONS.get(stop_reason, "stop") if stop_reason else None


def from_anthropic_response(body: Any) -> ChatResponse:
    """An Anthropic Message as the internal response; ValueError if it is not one."""
    message = msgspec.convert(body, _Message)  # ValidationError is a ValueError
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.content:
        if block.type == "text":
            texts.append(block.text or "")
        elif block.type == "tool_use":
            if not block.id or not block.name:
                raise ValueError("tool_use block without id or name")
            arguments = json_text(block.input if block.input is not None else {})
            calls.append(ToolCall(id=block.id, function=FunctionCall(block.name, arguments)))
        # thinking and server-tool blocks have no place in the internal form
    text = "".join(texts)
    reply = AssistantMessage(content=text or (None if calls else ""), tool_calls=calls or None)
    return ChatResponse(
        id=message.id,
        created=int(time.time()),
        model=message.model,
        choices=[Choice(0, reply, finish_reason(message.stop_reason) or "stop")],
        usage=message.usage.internal(),
    )


class AnthropicStreamError(Exception):
    """An `error` event in the stream: the provider failed after the response began."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


class _StartMessage(msgspec.Struct):
    id: str
    model: str = ""
    usage: _Usage = _Usage()


class _MessageStart(msgspec.Struct):
    message: _StartMessage


class _BlockStart(msgspec.Struct):
    index: int
    content_block: _Block


class _DeltaBody(msgspec.Struct):
    type: str
    text: str | None = None
    partial_json: str | None = None


class _BlockDelta(msgspec.Struct):
    index: int
    delta: _DeltaBody


class _StopReason(msgspec.Struct, frozen=True):
    stop_reason: str | None = None


class _MessageDelta(msgspec.Struct):
    delta: _StopReason = _StopReason()
    usage: _Usage = _Usage()


class _ErrorBody(msgspec.Struct):
    type: str = "api_error"
    message: str = ""


class _ErrorEvent(msgspec.Struct):
    error: _ErrorBody


class AnthropicStreamTranslator:
    """Anthropic stream events in, internal chunks out; ends with a usage-only chunk."""

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created = int(time.time())
        self.usage = _Usage()
        self.tool_calls: dict[int, int] = {}  # Anthropic block index -> OpenAI tool index
        self.done = False
        self._handlers: dict[str, Callable[[Any], list[ChatChunk]]] = {
            "message_start": self._message_start,
            "content_block_start": self._block_start,
            "content_block_delta": self._block_delta,
            "message_delta": self._message_delta,
            "message_stop": self._message_stop,
            "error": self._error,
        }

    def feed(self, event_name: str | None, data: dict[str, Any]) -> list[ChatChunk]:
        """Chunks for one event; ValueError if it is malformed, AnthropicStreamError if it
        is an error event. Unknown events (ping, ones added later) produce nothing."""
        kind = data.get("type", event_name)
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            return []
        if kind != "message_start" and kind != "error" and not self.id:
            raise ValueError(f"{kind} event before message_start")
        return handler(data)

    def _chunk(self, delta: Delta, finish: str | None = None) -> ChatChunk:
        return ChatChunk(self.id, self.created, self.model, [ChunkChoice(0, delta, finish)])

    def _message_start(self, data: Any) -> list[ChatChunk]:
        message = msgspec.convert(data, _MessageStart).message
        self.id, self.model = message.id, message.model
        self.usage = self.usage.merge(message.usage)
        return [self._chunk(Delta(role="assistant", content=""))]

    def _block_start(self, data: Any) -> list[ChatChunk]:
        event = msgspec.convert(data, _BlockStart)
        block = event.content_block
        if block.type == "text" and block.text:
            return [self._chunk(Delta(content=block.text))]
        if block.type != "tool_use":
            return []  # thinking and server-tool blocks are not carried
        if not block.id or not block.name:
            raise ValueError("tool_use block without id or name")
        index = self.tool_calls[event.index] = len(self.tool_calls)
        head = ToolCallDelta(index, block.id, "function", FunctionCallDelta(block.name, ""))
        return [self._chunk(Delta(tool_calls=[head]))]

    def _block_delta(self, data: Any) -> list[ChatChunk]:
        event = msgspec.convert(data, _BlockDelta)
        delta = event.delta
        if delta.type == "text_delta" and delta.text:
            return [self._chunk(Delta(content=delta.text))]
        # Server and MCP tool blocks also get input_json_delta; only client tools are carried.
        index = self.tool_calls.get(event.index)
        if delta.type == "input_json_delta" and delta.partial_json and index is not None:
            call = ToolCallDelta(index, function=FunctionCallDelta(arguments=delta.partial_json))
            return [self._chunk(Delta(tool_calls=[call]))]
        return []  # thinking, signature and citation deltas are not carried either

    def _message_delta(self, data: Any) -> list[ChatChunk]:
        event = msgspec.convert(data, _MessageDelta)
        self.usage = self.usage.merge(event.usage)
        finish = finish_reason(event.delta.stop_reason)
        return [self._chunk(Delta(), finish)] if finish else []

    def _message_stop(self, data: Any) -> list[ChatChunk]:
        self.done = True
        return [ChatChunk(self.id, self.created, self.model, [], usage=self.usage.internal())]

    def _error(self, data: Any) -> list[ChatChunk]:
        error = msgspec.convert(data, _ErrorEvent).error
        raise AnthropicStreamError(error.type, error.message)
