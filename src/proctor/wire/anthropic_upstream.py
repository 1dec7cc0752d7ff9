"""Anthropic Messages wire format, provider direction: the internal (OpenAI-shaped) request
as a Messages body. Anthropic's answers come back through `wire.anthropic_replies`.

Pure: the adapter in `providers.anthropic` does the I/O. Shapes that are not Anthropic's
raise ValueError, which the adapter reports as the provider's protocol error.
"""

from __future__ import annotations

from typing import Any

import msgspec

from proctor.errors import BadRequest
from proctor.wire.anthropic import tool_input
from proctor.wire.types import (
    ChatRequest,
    Message,
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
        texts.append(f"{_JSON_ONLY} It must conform to this JSON Schema:\n{json_text(schema)}")
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


def json_text(value: Any) -> str:
    return _encoder.encode(value).decode()


def _get(obj: object, key: str) -> Any:
    """`obj[key]` if obj is a dict; client-supplied dicts are not always the shape we expect."""
    return obj.get(key) if isinstance(obj, dict) else None
