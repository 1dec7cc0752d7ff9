"""Anthropic Messages wire format: translation to and from the internal (OpenAI) form."""

from __future__ import annotations

import msgspec

from proctor.errors import ProctorError

_encoder = msgspec.json.Encoder()


def error_body(error: ProctorError) -> bytes:
    return _encoder.encode(
        {"type": "error", "error": {"type": error.anthropic_type, "message": error.message}}
    )
