"""Structured output: valid, invalid (with paths), fenced, not JSON, bad schema."""

from __future__ import annotations

from typing import Any

import pytest

from proctor.guards import schema as schema_module
from proctor.guards.schema import MAX_ERRORS, validate_json

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"price": {"type": "number"}, "sku": {"type": "string"}},
                "required": ["price"],
            },
        },
        "odd key": {"type": "integer"},
    },
    "required": ["name"],
    "additionalProperties": False,
}


def test_valid_document_has_no_errors() -> None:
    assert validate_json('{"name": "a", "items": [{"price": 1.5}]}', SCHEMA) == []


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"name": "a"}\n```',
        '```\n{"name": "a"}\n```\n',
        '  ```JSON\r\n{"name": "a"}\r\n```  ',
    ],
)
def test_one_code_fence_is_tolerated(text: str) -> None:
    assert validate_json(text, SCHEMA) == []


def test_errors_name_the_json_path() -> None:
    errors = validate_json('{"items": [{"price": "abc"}, {}], "odd key": "x", "extra": 1}', SCHEMA)
    assert "$.items[0].price: 'abc' is not of type 'number'" in errors
    assert "$.items[1]: 'price' is a required property" in errors
    assert "$: 'name' is a required property" in errors
    assert any(e.startswith('$["odd key"]:') for e in errors)
    assert any("extra" in e and e.startswith("$:") for e in errors)


def test_errors_are_capped_and_short() -> None:
    document = '{"name": "a", "items": [' + ",".join(['{"price": "x"}'] * 50) + "]}"
    errors = validate_json(document, SCHEMA)
    assert len(errors) == MAX_ERRORS
    long_value = '{"name": ' + '"' + "y" * 5000 + '", "odd key": "' + "z" * 5000 + '"}'
    assert all(len(e) <= 200 for e in validate_json(long_value, SCHEMA))


@pytest.mark.parametrize(
    "text", ['Sure! Here it is: {"name": "a"}', "{'name': 'a'}", "", "[1, 2", "```json\n{\n```"]
)
def test_not_json_is_one_error(text: str) -> None:
    (error,) = validate_json(text, SCHEMA)
    assert error.startswith("not valid JSON")


def test_without_a_schema_any_json_is_valid() -> None:
    assert validate_json("[1, 2, 3]", None) == []
    assert validate_json("nope", None) != []


def test_invalid_schema_is_reported_not_raised() -> None:
    (error,) = validate_json("{}", {"type": "no-such-type"})
    assert error.startswith("invalid schema")


def test_validator_is_built_once_per_schema_object() -> None:
    schema: dict[str, Any] = {"type": "array"}
    first = schema_module._validator(schema)
    for _ in range(5):
        assert validate_json("[]", schema) == []
    assert validate_json("{}", schema) == ["$: {} is not of type 'array'"]
    assert schema_module._validator(schema) is first
    assert schema_module._validator(dict(schema)) is not first  # another object, its own


def test_draft_declared_by_the_schema_is_used() -> None:
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "number",
        "maximum": 5,
        "exclusiveMaximum": True,
    }
    assert validate_json("5", draft4) != []
    assert validate_json("4", draft4) == []


@pytest.mark.parametrize("text", ["[" * 100_000, "\x00", "\ud800", '"' + "\\" * 1001])
def test_odd_input_never_raises(text: str) -> None:
    validate_json(text, SCHEMA)
