"""Token estimates that need no vocabulary file: used before a call (context-window checks,
worst-case reservations) where an exact count is not needed and speed matters."""

from __future__ import annotations

import re

from proctor.wire.types import ChatRequest, message_text

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def approx_tokens(text: str) -> int:
    """Close to BPE counts for English: a token per word or symbol, long words split."""
    count = 0
    for piece in _TOKEN.findall(text):
        count += 1 + len(piece) // 7
    return count


def estimate_prompt_tokens(req: ChatRequest) -> int:
    """Prompt tokens, with the few tokens of framing each message carries."""
    total = 3
    for message in req.messages:
        total += 4 + approx_tokens(message_text(message))
        for call in message.tool_calls or ():
            total += 4 + approx_tokens(call.function.arguments)
    for tool in req.tools or ():
        total += 8 + approx_tokens(str(tool.function.parameters or ""))
    return total
