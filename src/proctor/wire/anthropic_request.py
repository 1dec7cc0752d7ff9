"""Anthropic Messages wire format, front door, request side: a Messages request body as
the internal (OpenAI-shaped) request. Pure, no I/O; `wire.anthropic` re-exports the parser.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

from proctor.errors import BadRequest
from proctor.wire.openai import RequestLimits, check_chat_request, decode_json_object
from proctor.wire.types import (
    ChatRequest,
    FunctionCall,
    FunctionDef,
    Message,
    StreamOptions,
    Tool,
    ToolCall,
)

_encoder = msgspec.json.Encoder()


# Request shapes. Only what proctor translates is declared; keys it does not use inside
# blocks (cache_control, citations) are ignored by msgspec rather than rejected.
class _Text(msgspec.Struct, tag_field="type", tag="text"):
    text: str


class _Source(msgspec.Struct):
    type: str
    media_type: str | None = None
    data: str | None = None
    url: str | None = None


class _Image(msgspec.Struct, tag_field="type", tag="image"):
    source: _Source


class _Document(msgspec.Struct, tag_field="type", tag="document"):
    source: _Source
    title: str | None = None


class _ToolUse(msgspec.Struct, tag_field="type", tag="tool_use"):
    id: str
    name: str
    input: dict[str, Any]


class _ToolResult(msgspec.Struct, tag_field="type", tag="tool_result"):
    tool_use_id: str
    content: str | list[_Text | _Image | _Document] = ""
    is_error: bool = False


class _Thinking(msgspec.Struct, tag_field="type", tag="thinking"):
    thinking: str = ""


class _RedactedThinking(msgspec.Struct, tag_field="type", tag="redacted_thinking"):
    data: str = ""


_Block = _Text | _Image | _Document | _ToolUse | _ToolResult | _Thinking | _RedactedThinking
_Media = _Image | _Document


class _Message(msgspec.Struct):
    role: Literal["user", "assistant"]
    content: str | list[_Block]


class _Tool(msgspec.Struct):
    name: str
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    type: str | None = None


class _ToolChoice(msgspec.Struct):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class _Request(msgspec.Struct):
    model: str
    max_tokens: int
    messages: list[_Message]
    system: str | list[_Text] | None = None
    stop_sequences: list[str] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stream: bool = False
    metadata: dict[str, Any] | None = None
    tools: list[_Tool] | None = None
    tool_choice: _ToolChoice | None = None


_FIELDS = frozenset(_Request.__struct_fields__)
_MISSING = re.compile(r"missing required field `([^`]+)`")


def _param_of(message: str) -> str | None:
    """The dotted path of the field a msgspec error is about, e.g. `messages[0].role`."""
    marker = "at `$"
    at = message.rfind(marker)
    path = message[at + len(marker) : -1].lstrip(".") if at >= 0 else ""
    missing = _MISSING.search(message)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
    return path or None


def _invalid(param: str, message: str) -> BadRequest:
    # Anthropic's error body has no `param`, so the message itself names the field.
    return BadRequest(f"`{param}`: {message}", param=param)


def parse_messages_request(body: bytes, limits: RequestLimits) -> ChatRequest:
    """An Anthropic Messages request as the internal request; unknown fields go to `extra`."""
    obj = decode_json_object(body)
    try:
        parsed = msgspec.convert({k: v for k, v in obj.items() if k in _FIELDS}, _Request)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"invalid request: {exc}", param=_param_of(str(exc))) from None
    if not parsed.messages:
        raise BadRequest("`messages` must contain at least one message", param="messages")
    # Anthropic's range, narrower than OpenAI's 0..2 that check_chat_request allows.
    if parsed.temperature is not None and not 0 <= parsed.temperature <= 1:
        raise BadRequest("`temperature` must be between 0 and 1", param="temperature")
    extra = {k: v for k, v in obj.items() if k not in _FIELDS}
    if parsed.top_k is not None:
        if parsed.top_k < 1:
            raise BadRequest("`top_k` must be positive", param="top_k")
        extra["top_k"] = parsed.top_k  # no OpenAI field; vLLM and Anthropic accept it as is
    tool_choice, parallel = _tool_choice(parsed.tool_choice)
    if not parsed.tools:
        # Anthropic ignores a tool_choice without tools; OpenAI refuses the request.
        tool_choice, parallel = None, None
    metadata = parsed.metadata
    user = metadata.get("user_id") if metadata else None
    req = ChatRequest(
        model=parsed.model,
        messages=_system(parsed.system) + _messages(parsed.messages),
        stream=parsed.stream,
        # Usage is needed for cost and for message_delta even if the client never asks.
        stream_options=StreamOptions(include_usage=True) if parsed.stream else None,
        max_tokens=parsed.max_tokens,
        temperature=parsed.temperature,
        top_p=parsed.top_p,
        stop=parsed.stop_sequences or None,
        user=user if isinstance(user, str) else None,
        tools=_tools(parsed.tools),
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        metadata=metadata,
        extra=extra,
    )
    check_chat_request(req, limits)
    return req


def _system(system: str | list[_Text] | None) -> list[Message]:
    if isinstance(system, list):
        system = "\n\n".join(block.text for block in system)
    return [Message(role="system", content=system)] if system else []


def _messages(messages: list[_Message]) -> list[Message]:
    out: list[Message] = []
    for i, message in enumerate(messages):
        if isinstance(message.content, str):
            out.append(Message(role=message.role, content=message.content))
        elif message.role == "assistant":
            out.append(_assistant(message.content, f"messages[{i}]"))
        else:
            out.extend(_user(message.content, f"messages[{i}]"))
    return out


def _assistant(blocks: list[_Block], at: str) -> Message:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for j, block in enumerate(blocks):
        if isinstance(block, _Text):
            texts.append(block.text)
        elif isinstance(block, _ToolUse):
            arguments = _encoder.encode(block.input).decode()
            calls.append(ToolCall(id=block.id, function=FunctionCall(block.name, arguments)))
        elif not isinstance(block, _Thinking | _RedactedThinking):
            raise _invalid(
                f"{at}.content[{j}]",
                "assistant messages may hold only text, tool_use and thinking blocks",
            )
    # Thinking blocks are dropped: the internal form has no place for reasoning.
    text = "".join(texts)
    return Message(
        role="assistant", content=text or (None if calls else ""), tool_calls=calls or None
    )


def _user(blocks: list[_Block], at: str) -> list[Message]:
    """Tool results become `tool` messages, which OpenAI wants right after the assistant's
    calls; the rest of the turn (and any media inside results) follows as a user message."""
    results: list[Message] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(blocks):
        param = f"{at}.content[{j}]"
        if isinstance(block, _Text):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, _Image | _Document):
            parts.append(_media_part(block, param))
        elif isinstance(block, _ToolResult):
            results.append(_tool_result(block, param, parts))
        elif isinstance(block, _ToolUse):
            raise _invalid(param, "tool_use blocks belong in assistant messages")
    return results + ([Message(role="user", content=parts)] if parts else [])


def _tool_result(block: _ToolResult, param: str, parts: list[dict[str, Any]]) -> Message:
    if isinstance(block.content, str):
        text = block.content
    else:
        text = "\n".join(b.text for b in block.content if isinstance(b, _Text))
        for k, item in enumerate(block.content):
            if not isinstance(item, _Text):
                parts.append(_media_part(item, f"{param}.content[{k}]"))
    # OpenAI has no error flag on tool results; say it in the text so the model still knows.
    if block.is_error:
        text = f"Error: {text}"
    return Message(role="tool", content=text, tool_call_id=block.tool_use_id)


def _media_part(block: _Media, param: str) -> dict[str, Any]:
    source = block.source
    if source.type == "base64" and source.media_type and source.data:
        url = f"data:{source.media_type};base64,{source.data}"
        if isinstance(block, _Image):
            return {"type": "image_url", "image_url": {"url": url}}
        filename = block.title or "document.pdf"
        return {"type": "file", "file": {"filename": filename, "file_data": url}}
    if isinstance(block, _Image) and source.type == "url" and source.url:
        return {"type": "image_url", "image_url": {"url": source.url}}
    if isinstance(block, _Document) and source.type == "text" and source.data is not None:
        return {"type": "text", "text": source.data}
    raise _invalid(
        f"{param}.source",
        f"a source of type '{source.type}' is not supported here, or lacks its media_type, "
        "data or url",
    )


def _tools(tools: list[_Tool] | None) -> list[Tool] | None:
    if not tools:
        return None
    out: list[Tool] = []
    for i, tool in enumerate(tools):
        # Server tools (web search, code execution...) run inside Anthropic and have no
        # equivalent on other providers, so they are refused rather than silently dropped.
        if tool.type not in (None, "custom"):
            raise _invalid(
                f"tools[{i}].type",
                f"tool type '{tool.type}' is not supported; only custom tools are",
            )
        if tool.input_schema is None:
            raise _invalid(f"tools[{i}].input_schema", "custom tools need an input_schema")
        out.append(Tool(FunctionDef(tool.name, tool.description, tool.input_schema)))
    return out


def _tool_choice(choice: _ToolChoice | None) -> tuple[str | dict[str, Any] | None, bool | None]:
    """The OpenAI `tool_choice` and `parallel_tool_calls` for an Anthropic tool_choice."""
    if choice is None:
        return None, None
    parallel = False if choice.disable_parallel_tool_use else None
    if choice.type == "tool":
        if not choice.name:
            raise _invalid("tool_choice.name", "tool_choice of type 'tool' needs a name")
        return {"type": "function", "function": {"name": choice.name}}, parallel
    return {"auto": "auto", "any": "required", "none": "none"}[choice.type], parallel
