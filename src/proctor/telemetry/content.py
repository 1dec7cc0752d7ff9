"""Message content for spans (`telemetry.capture_content`): always redacted, always bounded.

The prompt goes on the root span as `gen_ai.input.messages`, a JSON string in the GenAI
conventions' shape: `[{"role": "user", "parts": [{"type": "text", "content": "..."}]}]`,
tool calls as `tool_call` parts, tool results as `tool_call_response` parts, other parts
(images, audio) by their type only. Every text passes `redact_text`, and all texts together
are cut at `max_content_chars`, never through the middle of something the redactor would
have caught. The completion is not captured: the Context does not keep the reply's text
(keeping it would cost the request path a copy of every chunk).
"""

from __future__ import annotations

from typing import Any

import msgspec

from proctor.guards.redact import redact_prefix
from proctor.telemetry.attributes import CONTENT_TRUNCATED, INPUT_MESSAGES, Attributes
from proctor.wire.types import ChatRequest, EmbeddingRequest, Message

_encoder = msgspec.json.Encoder()
Part = dict[str, Any]


class _Budget:
    def __init__(self, chars: int) -> None:
        self.left = chars
        self.truncated = False

    def take(self, text: str) -> str:
        if self.left <= 0:
            self.truncated = self.truncated or bool(text)
            return ""
        redacted, cut = redact_prefix(text, self.left)
        self.left = 0 if cut else self.left - len(text)
        self.truncated |= cut
        return redacted


def _content_parts(content: str | list[dict[str, Any]] | None, budget: _Budget) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": budget.take(content)}]
    parts: list[Part] = []
    for part in content:
        text = part.get("text")
        if part.get("type") == "text" and isinstance(text, str):
            parts.append({"type": "text", "content": budget.take(text)})
        else:  # an image, audio...: its type, never its data
            parts.append({"type": str(part.get("type"))})
    return parts


def _parts(message: Message, budget: _Budget) -> list[Part]:
    parts = _content_parts(message.content, budget)
    if message.role == "tool":
        text = "".join(str(part.get("content", "")) for part in parts)
        return [{"type": "tool_call_response", "id": message.tool_call_id, "response": text}]
    for call in message.tool_calls or ():
        arguments = budget.take(call.function.arguments)
        parts.append(
            {"type": "tool_call", "id": call.id, "name": call.function.name, "arguments": arguments}
        )
    return parts


def input_messages(request: ChatRequest | EmbeddingRequest, max_chars: int) -> Attributes:
    """The request's messages (or embedding inputs) as span attributes, redacted."""
    budget = _Budget(max_chars)
    if isinstance(request, ChatRequest):
        messages = [{"role": m.role, "parts": _parts(m, budget)} for m in request.messages]
    else:
        texts = [t for t in request.inputs if isinstance(t, str)]
        messages = [
            {"role": "user", "parts": [{"type": "text", "content": budget.take(t)}]} for t in texts
        ]
    result: Attributes = {INPUT_MESSAGES: _encoder.encode(messages).decode()}
    if budget.truncated:
        result[CONTENT_TRUNCATED] = True
    return result
