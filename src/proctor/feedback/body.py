"""Parsing and checking a feedback body; every refusal is a 400 that names the field."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

from proctor.errors import BadRequest

MAX_BODY_BYTES = 64 * 1024
MAX_COMMENT_CHARS = 4000
MAX_METADATA_BYTES = 4096
MAX_TOKEN_CHARS = 64

API_FIELDS = ("request_id", "score", "comment", "metadata")
BROWSER_FIELDS = ("request_id", "token", "score", "comment")

# Request ids are proctor's own (`req_` + hex); anything else cannot name a request.
_REQUEST_ID = re.compile(r"[A-Za-z0-9_\-]{1,128}", re.ASCII)
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class FeedbackInput:
    request_id: str
    score: float
    comment: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    token: str | None = None


def _bad(param: str, message: str) -> BadRequest:
    return BadRequest(message, param=param, code="invalid_parameter")


def parse_feedback(body: bytes, *, browser: bool = False) -> FeedbackInput:
    """`{request_id, score, comment?, metadata?}`, or for the browser `{request_id, token,
    score, comment?}`. Unknown fields are refused, so a misspelt `rating` fails loudly."""
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise BadRequest("the body must be a JSON object", code="invalid_json") from None
    if not isinstance(raw, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_json")
    allowed = BROWSER_FIELDS if browser else API_FIELDS
    for name in raw:
        if name not in allowed:
            shown = str(name)[:40]
            raise _bad(shown, f"unknown field `{shown}`; allowed: {', '.join(allowed)}")
    return FeedbackInput(
        request_id=_request_id(raw.get("request_id")),
        score=_score(raw.get("score")),
        comment=_comment(raw.get("comment")),
        metadata={} if browser else _metadata(raw.get("metadata")),
        token=_token(raw.get("token")) if browser else None,
    )


def _request_id(value: object) -> str:
    if value is None:
        raise _bad("request_id", "`request_id` is required (the response's x-request-id)")
    if not isinstance(value, str) or not _REQUEST_ID.fullmatch(value):
        raise _bad("request_id", "`request_id` must be a request id like req_0123abcd...")
    return value


def _score(value: object) -> float:
    if value is None:
        raise _bad("score", "`score` is required: a number from -1 to 1")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad("score", "`score` must be a number from -1 to 1 (not a string or boolean)")
    score = float(value)
    if not math.isfinite(score) or not -1 <= score <= 1:
        raise _bad("score", f"`score` must be from -1 to 1 (1 up, -1 down), got {value}")
    return score


def _comment(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad("comment", "`comment` must be a string")
    if len(value) > MAX_COMMENT_CHARS:
        raise _bad("comment", f"`comment` is longer than {MAX_COMMENT_CHARS} characters")
    return value


def _metadata(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad("metadata", "`metadata` must be a JSON object")
    if len(_encoder.encode(value)) > MAX_METADATA_BYTES:
        raise _bad("metadata", f"`metadata` is larger than {MAX_METADATA_BYTES} bytes as JSON")
    return value


def _token(value: object) -> str:
    if value is None:
        raise _bad("token", "`token` is required: the response's x-proctor-feedback-token")
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TOKEN_CHARS:
        raise _bad("token", "`token` must be the response's x-proctor-feedback-token")
    return value
