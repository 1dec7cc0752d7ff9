"""Structured output: `validate_json(text, schema) -> list of error messages` (empty: valid).

The text may be wrapped in one Markdown code fence (```json ... ```), as models often do even
when asked for bare JSON; anything else around the JSON is an error, because the application
would not be able to parse it either. Validation uses `jsonschema` with the draft the schema
declares (`$schema`, default 2020-12); the validator is built once per schema object and kept
(schemas come from config or the request and are reused across calls), and the schema itself
is checked then, so a broken schema is reported as such instead of raising.

Messages are short and name the place: `$.items[2].price: 'abc' is not of type 'number'`; at
most `MAX_ERRORS` are returned, most relevant first, so that a re-ask prompt stays small.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema import exceptions, validators
from jsonschema.protocols import Validator

MAX_ERRORS = 10
_MESSAGE_CHARS = 200
_CACHE_SIZE = 128

_FENCE = re.compile(r"\A\s*```[ \t]*(?:json|JSON)?[ \t]*\r?\n(.*?)\r?\n?[ \t]*```\s*\Z", re.S)

# id(schema) -> (schema, validator or schema error); the schema is kept so that its id stays
# its own while cached.
_validators: OrderedDict[int, tuple[Mapping[str, Any], Validator | str]] = OrderedDict()


def _unfenced(text: str) -> str:
    match = _FENCE.match(text)
    return match.group(1) if match else text


def _path(parts: Sequence[str | int]) -> str:
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_]\w*", part):
            path += f".{part}"
        else:
            path += f"[{json.dumps(part)}]"
    return path


def _short(message: str) -> str:
    return message if len(message) <= _MESSAGE_CHARS else message[: _MESSAGE_CHARS - 3] + "..."


def _validator(schema: Mapping[str, Any]) -> Validator | str:
    """The cached validator for `schema`, or the reason the schema itself is invalid."""
    key = id(schema)
    cached = _validators.get(key)
    if cached is not None and cached[0] is schema:
        _validators.move_to_end(key)
        return cached[1]
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    built: Validator | str
    try:
        cls.check_schema(dict(schema))
        built = cls(schema)
    except exceptions.SchemaError as error:
        built = _short(f"invalid schema at {_path(list(error.absolute_path))}: {error.message}")
    _validators[key] = (schema, built)
    if len(_validators) > _CACHE_SIZE:
        _validators.popitem(last=False)
    return built


def validate_json(text: str, schema: Mapping[str, Any] | None) -> list[str]:
    """Why `text` is not a JSON document matching `schema` (any JSON when `schema` is None);
    an empty list when it is."""
    body = _unfenced(text)
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        detail = error.msg if isinstance(error, json.JSONDecodeError) else "too deeply nested"
        where = (
            f" at line {error.lineno} column {error.colno}"
            if isinstance(error, json.JSONDecodeError)
            else ""
        )
        return [f"not valid JSON: {detail}{where}"]
    if schema is None:
        return []
    validator = _validator(schema)
    if isinstance(validator, str):
        return [validator]
    try:
        errors = sorted(validator.iter_errors(document), key=exceptions.relevance)
    except RecursionError:
        return ["document too deeply nested to validate"]
    return [
        _short(f"{_path(list(error.absolute_path))}: {error.message}")
        for error in errors[:MAX_ERRORS]
    ]
