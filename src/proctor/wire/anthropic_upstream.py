"""Anthropic Messages wire format, provider direction: the internal (OpenAI-shaped) request
as a Messages body, and Anthropic's answers, whole or streamed, back in the internal form.

Pure: the adapter in `providers.anthropic` does the I/O. Shapes that are not Anthropic's
raise ValueError, which the adapter reports as the provider's protocol error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import msgspec

from proctor.errors import BadRequest
from proctor.wire.anthropic import tool_input
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
    Message,
    PromptTokensDetails,
    ToolCall,
    ToolCallDelta,
    Usage,
    message_text,
)

_encoder = msgspec.json.Encoder()

# Anthropic rejects unknown top-level fields, and `extra` may come from an OpenAI client,
# so only Anthropic's own fields (typically from the Anthropic front door) pass through.
_PASSTHROUGH = frozenset({"top_k", "thinking", "service_tier", "container", "mcp_servers"})
_JSON_ONLY = "Respond with a single valid JSON object and nothing else."
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def to_anthropic_request(req: ChatRequest, model: str, default_max_tokens: int) -> dict[str, Any]:
    """The body to POST to /v1/messages for this deployment (Anthropic requires max_tokens)."""
    if req.n is not None and req.n > 1:
        raise BadRequest("Anthropic returns one answer per request; `n` must be 1", param="n")
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": req.output_limit or default_max_tokens,
        "messages": _turns(req.messages),
    }
    system = _system(req)
    if system:
        body["system"] = system
    if req.stream:
        body["stream"] = True
    body.update(_sampling(req))
    if req.tools:
        body["tools"] = [
            {
                "name": tool.function.name,
                **({"description": tool.function.description} if tool.function.description else {}),
                "input_schema": tool.function.parameters or _EMPTY_SCHEMA,
            }
            for tool in req.tools
        ]
        choice = _tool_choice(req)
        if choice is not None:
            body["tool_choice"] = choice
    body.update({k: v for k, v in req.extra.items() if k in _PASSTHROUGH})
    return body


def _sampling(req: ChatRequest) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if req.temperature is not None:
        # OpenAI's scale goes to 2, Anthropic's to 1; clamp rather than fail the call.
        out["temperature"] = min(req.temperature, 1.0)
    if req.top_p is not None:
        out["top_p"] = req.top_p
    if req.stop:
        out["stop_sequences"] = [req.stop] if isinstance(req.stop, str) else list(req.stop)
    if req.user:
        out["metadata"] = {"user_id": req.user}
    return out


def _system(req: ChatRequest) -> str:
    texts = [message_text(m) for m in req.messages if m.role in ("system", "developer")]
    fmt = req.response_format or {}
    # Best effort: Anthropic has no response_format, so ask for the shape in words.
    if fmt.get("type") == "json_object":
        texts.append(_JSON_ONLY)
    elif fmt.get("type") == "json_schema":
        schema = _get(fmt.get("json_schema"), "schema") or {}
        texts.append(f"{_JSON_ONLY} It must conform to this JSON Schema:\n{_json(schema)}")
    return "\n\n".join(t for t in texts if t)


def _tool_choice(req: ChatRequest) -> dict[str, Any] | None:
    choice = req.tool_choice
    no_parallel = req.parallel_tool_calls is False
    if choice is None or choice == "auto":
        return {"type": "auto", "disable_parallel_tool_use": True} if no_parallel else None
    if choice == "none":
        return {"type": "none"}
    if choice == "required":
        out: dict[str, Any] = {"type": "any"}
    elif isinstance(name := _get(_get(choice, "function"), "name"), str):
        out = {"type": "tool", "name": name}
    else:
        raise BadRequest(f"`tool_choice` {choice!r} is not supported", param="tool_choice")
    if no_parallel:
        out["disable_parallel_tool_use"] = True
    return out


def _turns(messages: list[Message]) -> list[dict[str, Any]]:
    """Anthropic wants alternating user/assistant turns: tool results ride in user turns,
    and consecutive messages of one role merge into one turn."""
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if message.role in ("system", "developer"):
            continue
        role, blocks = _turn(message, f"messages[{i}]")
        if not blocks:
            continue  # Anthropic refuses empty turns; an empty message says nothing anyway
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return turns


def _turn(message: Message, at: str) -> tuple[str, list[dict[str, Any]]]:
    if message.role == "user":
        return "user", _user_blocks(message.content, at)
    if message.role == "assistant":
        return "assistant", _assistant_blocks(message)
    if message.role == "tool":
        if not message.tool_call_id:
            raise BadRequest(f"`{at}.tool_call_id` is required", param=f"{at}.tool_call_id")
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
        text = message_text(message)
        if text:
            result["content"] = text
        return "user", [result]
    raise BadRequest(
        f"`{at}.role` '{message.role}' is not supported by Anthropic; use tools",
        param=f"{at}.role",
    )


def _user_blocks(content: str | list[dict[str, Any]] | None, at: str) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        kind = part.get("type")
        param = f"{at}.content[{j}]"
        if kind == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": str(part["text"])})
        elif kind == "image_url":
            image = part.get("image_url")
            url = _get(image, "url") if isinstance(image, dict) else image
            blocks.append({"type": "image", "source": _source(url, param)})
        elif kind == "file":
            data = _get(part.get("file"), "file_data")
            blocks.append({"type": "document", "source": _source(data, param)})
        else:
            raise BadRequest(f"`{param}`: part '{kind}' is not supported by Anthropic", param=param)
    return blocks


def _source(url: object, param: str) -> dict[str, Any]:
    """An Anthropic media source for a data: URL (base64) or an http(s) URL."""
    if isinstance(url, str) and url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if sep and encoding == "base64" and media_type:
            return {"type": "base64", "media_type": media_type, "data": data}
    elif isinstance(url, str) and url.startswith(("http://", "https://")):
        return {"type": "url", "url": url}
    raise BadRequest(f"`{param}`: expected a base64 data: URL or an http(s) URL", param=param)


def _assistant_blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    text = message_text(message) or message.refusal
    if text:
        blocks.append({"type": "text", "text": text})
    for call in message.tool_calls or []:
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.function.name,
                "input": tool_input(call.function.arguments),
            }
        )
    return blocks


def _json(value: Any) -> str:
    return _encoder.encode(value).decode()


def _get(obj: object, key: str) -> Any:
    """`obj[key]` if obj is a dict; client-supplied dicts are not always the shape we expect."""
    return obj.get(key) if isinstance(obj, dict) else None


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
            arguments = _json(block.input if block.input is not None else {})
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
