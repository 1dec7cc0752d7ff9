"""OpenAI wire format: parse incoming bodies into the internal form, encode the replies.

Pure functions over bytes and structs: no I/O, so they are tested on their own and reused by
the front door (server) and by the OpenAI-compatible provider adapter.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from proctor.errors import BadRequest, ProctorError
from proctor.wire.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
)

T = TypeVar("T", ChatRequest, EmbeddingRequest)

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()
_CHAT_FIELDS = frozenset(f for f in ChatRequest.__struct_fields__ if f != "extra")
_EMBED_FIELDS = frozenset(f for f in EmbeddingRequest.__struct_fields__ if f != "extra")
# Attribution and prompt variables are proctor's business; OpenAI rejects `metadata`
# unless `store` is set, so it is not forwarded by default.
_NOT_FORWARDED = ("metadata",)


class RequestLimits(msgspec.Struct, frozen=True):
    """Sanity bounds applied while parsing; configured under `server`."""

    max_output_tokens: int = 1_000_000
    max_messages: int = 10_000
    max_n: int = 16


def decode_json_object(body: bytes) -> dict[str, Any]:
    """Decode a request body that must be a JSON object, with a message that says why not."""
    if not body:
        raise BadRequest("request body is empty; expected a JSON object")
    try:
        obj = _decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("request body is nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"request body is not valid UTF-8: {exc.reason} at byte {exc.start}"
        ) from None
    if not isinstance(obj, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(obj).__name__}")
    return obj


def _convert(obj: dict[str, Any], fields: frozenset[str], cls: type[T]) -> T:
    known = {k: v for k, v in obj.items() if k in fields}
    extra = {k: v for k, v in obj.items() if k not in fields}
    try:
        result = msgspec.convert(known, cls)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"invalid request: {exc}", param=_param_of(str(exc))) from None
    if extra:
        result.extra = extra
    return result


def _param_of(message: str) -> str | None:
    marker = "at `$."
    at = message.rfind(marker)
    return message[at + len(marker) : -1] if at >= 0 else None


def parse_chat_request(body: bytes, limits: RequestLimits) -> ChatRequest:
    req = _convert(decode_json_object(body), _CHAT_FIELDS, ChatRequest)
    check_chat_request(req, limits)
    return req


def check_chat_request(req: ChatRequest, limits: RequestLimits) -> None:
    """Semantic checks that the type system cannot express; shared by both front doors."""
    if not req.model:
        raise BadRequest("`model` must not be empty", param="model")
    if not req.messages:
        raise BadRequest("`messages` must contain at least one message", param="messages")
    if len(req.messages) > limits.max_messages:
        raise BadRequest(
            f"`messages` has {len(req.messages)} items; the limit is {limits.max_messages}",
            param="messages",
        )
    for name in ("max_tokens", "max_completion_tokens"):
        value = getattr(req, name)
        if value is not None and not 1 <= value <= limits.max_output_tokens:
            raise BadRequest(
                f"`{name}` must be between 1 and {limits.max_output_tokens}, got {value}",
                param=name,
            )
    if req.temperature is not None and not 0 <= req.temperature <= 2:
        raise BadRequest("`temperature` must be between 0 and 2", param="temperature")
    if req.top_p is not None and not 0 <= req.top_p <= 1:
        raise BadRequest("`top_p` must be between 0 and 1", param="top_p")
    if req.n is not None and not 1 <= req.n <= limits.max_n:
        raise BadRequest(f"`n` must be between 1 and {limits.max_n}", param="n")
    _check_content_parts(req)
    _check_tool_choice(req.tool_choice)
    _check_response_format(req.response_format)


def _check_tool_choice(choice: str | dict[str, Any] | None) -> None:
    if isinstance(choice, str) and choice not in ("none", "auto", "required"):
        raise BadRequest(
            "`tool_choice` must be none, auto, required or a function", param="tool_choice"
        )
    if isinstance(choice, dict):
        function = choice.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise BadRequest(
                '`tool_choice` must look like {"type": "function", "function": {"name": ...}}',
                param="tool_choice",
            )


def _check_response_format(response_format: dict[str, Any] | None) -> None:
    if response_format is None:
        return
    kind = response_format.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise BadRequest(
            "`response_format.type` must be text, json_object or json_schema",
            param="response_format.type",
        )
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema", {}), dict):
            raise BadRequest(
                "`response_format.json_schema` must be an object with a `schema` object",
                param="response_format.json_schema",
            )


def _check_content_parts(req: ChatRequest) -> None:
    for i, message in enumerate(req.messages):
        if isinstance(message.content, list):
            for j, part in enumerate(message.content):
                if not isinstance(part.get("type"), str):
                    raise BadRequest(
                        "each content part needs a string `type`",
                        param=f"messages[{i}].content[{j}]",
                    )


def parse_embedding_request(body: bytes) -> EmbeddingRequest:
    req = _convert(decode_json_object(body), _EMBED_FIELDS, EmbeddingRequest)
    if not req.model:
        raise BadRequest("`model` must not be empty", param="model")
    items = req.inputs
    if not items or not all(_valid_input(item) for item in items):
        raise BadRequest(
            "`input` must be a non-empty string, a list of non-empty strings, a token array "
            "or a list of token arrays",
            param="input",
        )
    if req.dimensions is not None and not 1 <= req.dimensions <= 65_536:
        raise BadRequest("`dimensions` must be between 1 and 65536", param="dimensions")
    return req


def _valid_input(item: Any) -> bool:
    if isinstance(item, str):
        return bool(item)
    return (
        isinstance(item, list)
        and bool(item)
        and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in item)
    )


def encode_request(req: ChatRequest | EmbeddingRequest, model: str) -> bytes:
    """The body to send to an OpenAI-compatible upstream, with the deployment's model name."""
    replaced = msgspec.structs.replace(req, model=model, extra={})
    if isinstance(replaced, ChatRequest) and replaced.metadata is not None:
        replaced = msgspec.structs.replace(replaced, metadata=None)
    body = _encoder.encode(replaced)
    extra = {k: v for k, v in req.extra.items() if k not in _NOT_FORWARDED}
    if not extra:
        return body
    # Splice the pass-through fields into the object without a second full encode.
    return body[:-1] + b"," + _encoder.encode(extra)[1:]


def encode(obj: ChatResponse | ChatChunk | EmbeddingResponse | dict[str, Any]) -> bytes:
    return _encoder.encode(obj)


def error_body(error: ProctorError) -> bytes:
    return _encoder.encode(
        {
            "error": {
                "message": error.message,
                "type": error.openai_type,
                "param": error.param,
                "code": error.code,
            }
        }
    )
