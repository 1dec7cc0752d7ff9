"""The create request: one set of checks for the CLI and the admin API, naming the field."""

from __future__ import annotations

import msgspec
import pytest

from proctor.keys import KeySpec, KeySpecError, check, spec_from_json


def _error(body: object) -> KeySpecError:
    with pytest.raises(KeySpecError) as info:
        spec_from_json(msgspec.json.encode(body))
    return info.value


def test_a_full_request_is_trimmed_and_deduplicated() -> None:
    spec = spec_from_json(
        msgspec.json.encode(
            {
                "name": "  bot ",
                "tenant": "acme",
                "budget_usd": 5,
                "budget_period": "total",
                "rpm": 10,
                "tpm": 1000,
                "models": ["a", "b", "a"],
                "metadata": {"k": "v"},
            }
        )
    )
    assert spec.name == "bot"
    assert spec.budget_usd == 5
    assert spec.budget_period == "total"
    assert spec.models == ("a", "b")
    assert spec.metadata == {"k": "v"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 300}, "name"),
        ({"name": "k", "tenant": " "}, "tenant"),
        ({"name": "k", "budget_usd": 0}, "budget_usd"),
        ({"name": "k", "budget_usd": -1}, "budget_usd"),
        ({"name": "k", "budget_usd": 1e12}, "budget_usd"),
        ({"name": "k", "budget_usd": "10"}, "budget_usd"),
        ({"name": "k", "budget_period": "week"}, "budget_period"),
        ({"name": "k", "rpm": 0}, "rpm"),
        ({"name": "k", "rpm": -5}, "rpm"),
        ({"name": "k", "rpm": 1.5}, "rpm"),
        ({"name": "k", "rpm": True}, "rpm"),
        ({"name": "k", "tpm": 2**40}, "tpm"),
        ({"name": "k", "models": []}, "models"),
        ({"name": "k", "models": ["ok", " "]}, "models"),
        ({"name": "k", "models": "chat"}, "models"),
        ({"name": "k", "metadata": {"k": 1}}, "metadata"),
        ({"name": "k", "metadata": {str(i): "v" for i in range(100)}}, "metadata"),
        ({"name": "k", "budget": 10}, "budget"),
        ({"name": "k", "hash": "0" * 64}, "hash"),
    ],
)
def test_bad_fields_are_named(body: dict[str, object], field: str) -> None:
    assert _error(body).field == field


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b'"name"'])
def test_a_body_that_is_not_an_object_is_refused(raw: bytes) -> None:
    with pytest.raises(KeySpecError):
        spec_from_json(raw)


def test_check_validates_a_spec_built_in_code() -> None:
    # The CLI builds the struct directly (no decoding), so the period is checked by `check`.
    with pytest.raises(KeySpecError) as info:
        check(KeySpec(name="k", budget_period="fortnight"))  # type: ignore[arg-type]
    assert info.value.field == "budget_period"
    with pytest.raises(KeySpecError) as info:
        check(KeySpec(name="k", budget_usd=float("nan")))
    assert info.value.field == "budget_usd"
