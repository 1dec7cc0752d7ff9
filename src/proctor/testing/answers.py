"""What the fake upstream answers: deterministic text, tool calls, usage and embeddings.

Tests import these functions to compute the exact answer they expect, so the fake and the
assertions can never drift apart. A "token" here is a whitespace-separated word, which keeps
the counts easy to reason about in a test.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

ANSWER_PREFIX = "Fake answer to:"
TOOL_RESULT_PREFIX = "Fake answer using the tool result:"
MODELS = ("fake-chat", "fake-chat-large", "fake-embed")
EMBEDDING_DIMS = 8
_PIECE = re.compile(r"\s*\S+")


@dataclass(frozen=True, slots=True)
class Plan:
    """One chat answer, independent of the wire format it is sent in."""

    text: str | None
    pieces: list[str]  # the text (or tool arguments) as streamed
    finish: str  # "stop", "length" or "tool_calls"
    prompt_tokens: int
    completion_tokens: int
    tool_name: str | None = None
    tool_arguments: dict[str, Any] | None = None


def words(text: str) -> int:
    return len(text.split())


def pieces(text: str) -> list[str]:
    """Word-sized stream pieces that join back to exactly `text`."""
    return _PIECE.findall(text) or [text]


def answer_text(prompt: str) -> str:
    return f"{ANSWER_PREFIX} {prompt}"


def tool_result_text(result: str) -> str:
    return f"{TOOL_RESULT_PREFIX} {result}"


def tool_arguments(schema: dict[str, Any] | None) -> dict[str, Any]:
    """Arguments that satisfy a simple JSON schema: one fixed value per property type."""
    samples: dict[str, Any] = {
        "string": "fake",
        "integer": 1,
        "number": 1.5,
        "boolean": True,
        "array": [],
        "object": {},
    }
    properties = (schema or {}).get("properties") or {}
    return {
        name: samples.get(str(spec.get("type")), "fake") if isinstance(spec, dict) else "fake"
        for name, spec in properties.items()
    }


def plan(
    *,
    prompt: str,
    prompt_tokens: int,
    limit: int | None,
    tool: tuple[str, dict[str, Any] | None] | None = None,
    tool_result: str | None = None,
) -> Plan:
    """The answer to a conversation: a forced tool call, an answer to a tool result, or text."""
    if tool is not None:
        name, schema = tool
        arguments = tool_arguments(schema)
        parts = pieces(json.dumps(arguments))
        return Plan(None, parts, "tool_calls", prompt_tokens, len(parts), name, arguments)
    text = tool_result_text(tool_result) if tool_result is not None else answer_text(prompt)
    parts = pieces(text)
    finish = "stop"
    if limit is not None and limit < len(parts):
        parts, finish = parts[:limit], "length"
    return Plan("".join(parts), parts, finish, prompt_tokens, len(parts))


def embedding(text: str, dims: int = EMBEDDING_DIMS) -> list[float]:
    """A unit-free but stable vector: the same text always gets the same numbers."""
    digest = hashlib.sha256(text.encode()).digest()
    while len(digest) < dims:
        digest += hashlib.sha256(digest).digest()
    return [round(byte / 255 - 0.5, 6) for byte in digest[:dims]]


def text_of(content: Any) -> str:
    """Text of an OpenAI or Anthropic message content (string or list of parts/blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""
