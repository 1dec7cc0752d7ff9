"""What kind of failure an error is (the fallback triggers), and context-window limits."""

from __future__ import annotations

import re

from proctor.config import Trigger
from proctor.errors import (
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
)

# Failures worth trying again on the same deployment after a backoff. A timeout is not: the
# deadline it consumed is better spent on the next deployment.
RETRYABLE: frozenset[Trigger] = frozenset({"5xx", "429", "connection", "malformed"})

_CONTENT_POLICY = re.compile(r"content[_ ]?(policy|filter|management)|safety system", re.I)
_CONTEXT = re.compile(
    r"context[_ ]length|context window|maximum context|too many tokens|prompt is too long", re.I
)


def classify(error: UpstreamError) -> Trigger | None:
    """The trigger an error matches; None for errors about the request itself (final)."""
    if isinstance(error, UpstreamTimeout):
        return "timeout"
    if isinstance(error, UpstreamConnectionError):
        return "connection"
    if isinstance(error, UpstreamProtocolError):
        return "malformed"
    if isinstance(error, UpstreamStatusError):
        status = error.upstream_status
        if status == 429:
            return "429"
        if status >= 500:
            return "5xx"
        text = f"{error.code or ''} {error.message}"
        if _CONTEXT.search(text):
            return "context_window"
        if _CONTENT_POLICY.search(text):
            return "content_policy"
        return None
    return "malformed"


# Context windows by model-name prefix, longest prefix first; config can override per
# deployment. Checked 2026-11 against the providers' model pages.
_WINDOWS: tuple[tuple[str, int], ...] = (
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-4", 8_192),
    ("gpt-3.5-turbo", 16_385),
    ("gpt-5", 400_000),
    ("o1-mini", 128_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4-mini", 200_000),
    ("claude", 200_000),
    ("llama3.1", 131_072),
    ("llama3.2", 131_072),
    ("llama3.3", 131_072),
    ("llama-3", 131_072),
    ("mistral-large", 131_072),
    ("mistral", 32_768),
    ("gemini", 1_048_576),
)


def context_window(model: str, configured: int | None) -> int | None:
    if configured is not None:
        return configured
    name = model.rsplit("/", 1)[-1].lower()
    for prefix, window in _WINDOWS:
        if name.startswith(prefix):
            return window
    return None
