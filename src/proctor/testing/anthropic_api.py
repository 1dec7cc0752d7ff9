"""The Anthropic Messages side of the fake upstream: request checks and reply bodies."""

from __future__ import annotations

from typing import Any

from proctor.testing import answers
from proctor.testing.answers import Plan

MESSAGE_ID = "msg_fake"
TOOL_USE_ID = "toolu_fake_0"
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def error_body(status: int, message: str) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def check(body: Any) -> str | None:
    """Why the body is not a Messages request Anthropic would accept, or None."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    return None


def _tool_result(content: Any) -> str | None:
    if not isinstance(content, list):
        return None
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            return answers.text_of(block.get("content"))
    return None


def _forced_tool(body: dict[str, Any], prompt: str) -> tuple[str, dict[str, Any] | None] | None:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice") or {"type": "auto"}
    kind = choice.get("type") if isinstance(choice, dict) else None
    if not tools or kind == "none":
        return None
    chosen: dict[str, Any] | None = None
    if kind == "any":
        chosen = tools[0]
    elif kind == "tool":
        chosen = next((t for t in tools if t.get("name") == choice.get("name")), None)
    else:
        chosen = next((t for t in tools if str(t.get("name", "")).lower() in prompt.lower()), None)
    if chosen is None:
        return None
    return str(chosen.get("name")), chosen.get("input_schema")


def plan(body: dict[str, Any]) -> Plan:
    messages = body["messages"]
    content = messages[-1].get("content")
    prompt = answers.text_of(content)
    tool_result = _tool_result(content)
    prompt_tokens = sum(3 + answers.words(answers.text_of(m.get("content"))) for m in messages)
    prompt_tokens += answers.words(answers.text_of(body.get("system")))
    prompt_tokens += 10 * len(body.get("tools") or [])
    return answers.plan(
        prompt=prompt,
        prompt_tokens=prompt_tokens,
        limit=body["max_tokens"],
        tool=None if tool_result is not None else _forced_tool(body, prompt),
        tool_result=tool_result,
    )


def usage(plan: Plan, *, cache_read: int, cache_creation: int) -> dict[str, Any]:
    return {
        "input_tokens": plan.prompt_tokens,
        "output_tokens": plan.completion_tokens,
        "cache_creation_input_tokens": cache_creation,
        "cache_read_input_tokens": cache_read,
    }


def _block(plan: Plan) -> dict[str, Any]:
    if plan.tool_name is not None:
        return {
            "type": "tool_use",
            "id": TOOL_USE_ID,
            "name": plan.tool_name,
            "input": plan.tool_arguments,
        }
    return {"type": "text", "text": plan.text}


def message(plan: Plan, model: str, usage_obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": MESSAGE_ID,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [_block(plan)],
        "stop_reason": _STOP_REASONS[plan.finish],
        "stop_sequence": None,
        "usage": usage_obj,
    }


def events(plan: Plan, model: str, usage_obj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The (event name, data) pairs of a streamed answer, as Anthropic sends them."""
    start = {**message(plan, model, {**usage_obj, "output_tokens": 1}), "content": []}
    start["stop_reason"] = None
    if plan.tool_name is not None:
        block = {**_block(plan), "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in plan.pieces]
    else:
        block = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in plan.pieces]
    out: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": block},
        ),
        ("ping", {"type": "ping"}),
    ]
    out += [
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        for delta in deltas
    ]
    out += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": _STOP_REASONS[plan.finish], "stop_sequence": None},
                "usage": {"output_tokens": plan.completion_tokens},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return out
