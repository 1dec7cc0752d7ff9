"""The OpenAI (and Azure OpenAI) side of the fake upstream: request checks and reply bodies."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

from proctor.testing import answers
from proctor.testing.answers import Plan

CREATED = 1_700_000_000
COMPLETION_ID = "chatcmpl-fake"
TOOL_CALL_ID = "call_fake_0"
_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def error_body(status: int, message: str, *, azure: bool = False) -> dict[str, Any]:
    if azure:
        return {"error": {"code": str(status), "message": message}}
    kind, code = _ERROR_TYPES.get(status, ("server_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def check_chat(body: Any, *, azure: bool = False) -> str | None:
    """Why the body is not a chat request OpenAI would accept, or None."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    # Azure takes the model from the deployment in the URL.
    if not azure and (not isinstance(body.get("model"), str) or not body["model"]):
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    if body.get("stream_options") is not None and not body.get("stream"):
        return "The 'stream_options' parameter is only allowed when 'stream' is enabled."
    return _missing_tool_type(body)


def _missing_tool_type(body: dict[str, Any]) -> str | None:
    # OpenAI rejects tools and assistant tool calls without their `type` (a classic
    # serialisation slip when defaults are omitted), so the fake does too.
    for i, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool, dict) or "type" not in tool:
            return f"Missing required parameter: 'tools[{i}].type'."
    for i, message in enumerate(body["messages"]):
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        for j, call in enumerate(calls or []):
            if not isinstance(call, dict) or "type" not in call:
                return f"Missing required parameter: 'messages[{i}].tool_calls[{j}].type'."
    return None


def check_embeddings(body: Any, *, azure: bool = False) -> str | None:
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if not azure and (not isinstance(body.get("model"), str) or not body["model"]):
        return "you must provide a model parameter"
    if not body.get("input"):
        return "'input' must not be empty"
    return None


def _forced_tool(body: dict[str, Any]) -> tuple[str, dict[str, Any] | None] | None:
    tools = [t.get("function", {}) for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice")
    last = body["messages"][-1]
    if not tools or choice == "none" or last.get("role") == "tool":
        return None
    chosen: dict[str, Any] | None = None
    if choice == "required":
        chosen = tools[0]
    elif isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name")
        chosen = next((t for t in tools if t.get("name") == wanted), None)
    else:
        prompt = answers.text_of(last.get("content")).lower()
        chosen = next((t for t in tools if str(t.get("name", "")).lower() in prompt), None)
    if chosen is None:
        return None
    return str(chosen.get("name")), chosen.get("parameters")


def chat_plan(body: dict[str, Any]) -> Plan:
    messages = body["messages"]
    last = messages[-1]
    prompt_tokens = sum(3 + answers.words(answers.text_of(m.get("content"))) for m in messages)
    prompt_tokens += 10 * len(body.get("tools") or [])
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    tool_result = answers.text_of(last.get("content")) if last.get("role") == "tool" else None
    return answers.plan(
        prompt=answers.text_of(last.get("content")),
        prompt_tokens=prompt_tokens,
        limit=limit if isinstance(limit, int) else None,
        tool=_forced_tool(body),
        tool_result=tool_result,
    )


def usage(plan: Plan, *, cached: int, reasoning: int) -> dict[str, Any]:
    # As OpenAI reports them: cached tokens are part of prompt_tokens, reasoning tokens part
    # of completion_tokens.
    prompt = plan.prompt_tokens + cached
    completion = plan.completion_tokens + reasoning
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def completion(plan: Plan, model: str, usage_obj: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": plan.text, "refusal": None}
    if plan.tool_name is not None:
        message["tool_calls"] = [
            {
                "id": TOOL_CALL_ID,
                "type": "function",
                "function": {"name": plan.tool_name, "arguments": json.dumps(plan.tool_arguments)},
            }
        ]
    return {
        "id": COMPLETION_ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": plan.finish}
        ],
        "usage": usage_obj,
        "system_fingerprint": "fp_fake",
    }


def chunks(
    plan: Plan, model: str, usage_obj: dict[str, Any], include_usage: bool
) -> list[dict[str, Any]]:
    """The chunks of a streamed answer, shaped the way OpenAI sends them."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": COMPLETION_ID,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            body["usage"] = None
        return body

    out = [chunk({"role": "assistant", "content": "" if plan.tool_name is None else None})]
    if plan.tool_name is not None:
        head = {"index": 0, "id": TOOL_CALL_ID, "type": "function"}
        function = {"name": plan.tool_name, "arguments": ""}
        out.append(chunk({"tool_calls": [{**head, "function": function}]}))
        out += [
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            for piece in plan.pieces
        ]
    else:
        out += [chunk({"content": piece}) for piece in plan.pieces]
    out.append(chunk({}, plan.finish))
    if include_usage:
        out.append({**chunk({}), "choices": [], "usage": usage_obj})
    return out


def embeddings(body: dict[str, Any], model: str) -> dict[str, Any]:
    raw = body["input"]
    items: list[Any] = [raw] if isinstance(raw, str) or isinstance(raw[0], int) else raw
    dims = body.get("dimensions") or answers.EMBEDDING_DIMS
    data: list[dict[str, Any]] = []
    tokens = 0
    for index, item in enumerate(items):
        text = item if isinstance(item, str) else " ".join(map(str, item))
        tokens += answers.words(text) if isinstance(item, str) else len(item)
        vector: Any = answers.embedding(text, dims)
        if body.get("encoding_format") == "base64":
            vector = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def models() -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": CREATED, "owned_by": "fake"}
            for name in answers.MODELS
        ],
    }


def stream_error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
