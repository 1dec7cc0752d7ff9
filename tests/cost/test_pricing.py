"""Price lookup and cost arithmetic. Expected costs are worked out by hand in the comments
(USD per million tokens x tokens / 1,000,000)."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from proctor.config import PriceConfig
from proctor.cost.pricing import (
    Price,
    PriceTable,
    _load_shipped,
    cost_usd,
    shipped_metadata,
    worst_case_usd,
)
from proctor.wire.anthropic_replies import from_anthropic_response
from proctor.wire.types import CompletionTokensDetails, PromptTokensDetails, Usage


def price(input: float, output: float, **rest: float) -> Price:
    return Price.of(PriceConfig(input=input, output=output, **rest))


def raw_table() -> dict[str, object]:
    text = resources.files("proctor.cost").joinpath("prices.json").read_text("utf-8")
    data: dict[str, object] = json.loads(text)
    return data


# The shipped table.


def test_shipped_table_parses_and_every_row_has_input_and_output() -> None:
    data = raw_table()
    assert data["checked"] == "2026-11-27"
    models = data["models"]
    assert isinstance(models, dict)
    assert len(models) > 20
    for key, row in models.items():
        assert isinstance(row["input"], int | float), key
        assert isinstance(row["output"], int | float), key
        assert row["input"] >= 0, key
        assert row["output"] >= 0, key
        assert row.get("source"), f"{key} does not say where its price came from"
    assert len(PriceTable.load()) == len(models)


def test_shipped_metadata_names_sources() -> None:
    meta = shipped_metadata()
    assert meta["checked"] == "2026-11-27"
    assert meta["sources"]
    assert all(url.startswith("https://") for url in meta["sources"])
    assert "stored copies" in meta["provenance"]


@pytest.mark.parametrize(
    ("model", "input", "output"),
    [
        ("gpt-4o", 2.5, 10.0),
        ("gpt-4o-2024-08-06", 2.5, 10.0),
        ("gpt-4o-mini-2024-07-18", 0.15, 0.6),
        ("gpt-4.1-2025-04-14", 2.0, 8.0),
        ("o3", 2.0, 8.0),
        ("o4-mini-2025-04-16", 1.1, 4.4),
        ("gpt-5-mini", 0.25, 2.0),
        ("text-embedding-3-small", 0.02, 0.0),
        ("claude-sonnet-4-5-20250929", 3.0, 15.0),
        ("claude-opus-4-20250514", 15.0, 75.0),
        ("claude-opus-4-1-20250805", 15.0, 75.0),
        ("claude-opus-4-5-20251101", 5.0, 25.0),
        ("claude-haiku-4-5-20251001", 1.0, 5.0),
        ("claude-3-5-haiku-20241022", 0.8, 4.0),
    ],
)
def test_shipped_prices(model: str, input: float, output: float) -> None:
    found = PriceTable.load().price_for(model)
    assert found is not None
    assert (found.input, found.output) == (input, output)


def test_sim_models_are_priced_and_labelled_simulated() -> None:
    prices = PriceTable.load()
    for model in ("sim-small", "sim-large", "sim-embed", "sim/sim-small"):
        found = prices.price_for(model)
        assert found is not None
        assert found.simulated
        assert (found.input, found.output) == (1.0, 2.0)
    real = prices.price_for("gpt-4o")
    assert real is not None
    assert not real.simulated


def test_malformed_table_is_rejected() -> None:
    with pytest.raises(ValueError, match="output"):
        _load_shipped(b'{"checked": "x", "models": {"m": {"input": 1}}}')
    with pytest.raises(ValueError, match="negative"):
        _load_shipped(b'{"checked": "x", "models": {"m": {"input": -1, "output": 1}}}')
    with pytest.raises(ValueError, match="typo"):
        _load_shipped(b'{"checked": "x", "models": {"m": {"input": 1, "output": 1, "typo": 1}}}')


# Lookup precedence: exact > longest glob > undated > without provider prefix.

A, B, C, D = price(1, 1), price(2, 2), price(3, 3), price(4, 4)


def test_exact_beats_glob() -> None:
    prices = PriceTable({"gpt-x": A, "gpt-*": B})
    assert prices.price_for("gpt-x") is A
    assert prices.price_for("gpt-y") is B


def test_longest_glob_wins() -> None:
    prices = PriceTable({"gpt-*": B, "gpt-x*": C})
    assert prices.price_for("gpt-xl") is C
    assert prices.price_for("gpt-yl") is B


def test_glob_on_full_name_beats_undated_exact() -> None:
    prices = PriceTable({"gpt-x": A, "gpt-x-2024*": D})
    assert prices.price_for("gpt-x-2024-05-13") is D
    assert prices.price_for("gpt-x-2025-05-13") is A


@pytest.mark.parametrize(
    "model", ["gpt-x-2024-08-06", "gpt-x-20240806", "gpt-x-0613", "gpt-x-latest"]
)
def test_date_suffix_is_stripped(model: str) -> None:
    assert PriceTable({"gpt-x": A}).price_for(model) is A


def test_undated_beats_prefix_stripped() -> None:
    prices = PriceTable({"acme/gpt-x": A, "gpt-x-2024-08-06": B})
    assert prices.price_for("acme/gpt-x-2024-08-06") is A
    assert PriceTable({"gpt-x-2024-08-06": B}).price_for("acme/gpt-x-2024-08-06") is B


def test_provider_prefix_is_stripped() -> None:
    prices = PriceTable({"gpt-x": A})
    assert prices.price_for("openai/gpt-x") is A
    assert prices.price_for("openrouter/openai/gpt-x-2024-08-06") is A


def test_lookup_is_case_insensitive() -> None:
    assert PriceTable.load({"My-Model": PriceConfig(input=1, output=2)}).price_for("my-model")
    assert PriceTable.load().price_for("GPT-4o") is not None


def test_unknown_model_has_no_price() -> None:
    prices = PriceTable.load()
    assert prices.price_for("no-such-model") is None
    assert prices.price_for("") is None
    assert prices.price_for("gpt-4o-realtime-preview") is None  # priced differently: not guessed


def test_config_overrides_win() -> None:
    prices = PriceTable.load(
        {"gpt-4o": PriceConfig(input=1.0, output=2.0), "corp-*": PriceConfig(input=5, output=6)}
    )
    overridden = prices.price_for("gpt-4o-2024-08-06")
    assert overridden is not None
    assert (overridden.input, overridden.output) == (1.0, 2.0)
    # PriceConfig's defaults: cached input and cache writes at input, reasoning at output.
    assert (overridden.cached_input, overridden.cache_write, overridden.reasoning) == (1, 1, 2)
    added = prices.price_for("corp-llm")
    assert added is not None
    assert added.pattern == "corp-*"
    untouched = prices.price_for("gpt-4o-mini")
    assert untouched is not None
    assert untouched.input == 0.15


# Cost arithmetic.


def test_plain_usage() -> None:
    # gpt-4o: 1,000 x 2.50 + 500 x 10.00 = 7,500 micro-dollars.
    gpt4o = PriceTable.load().price_for("gpt-4o")
    assert gpt4o is not None
    assert cost_usd(gpt4o, Usage(prompt_tokens=1000, completion_tokens=500)) == 0.0075


def test_cached_usage() -> None:
    # gpt-4o-mini: 6,000 uncached x 0.15 + 4,000 cached x 0.075 + 1,000 x 0.60
    # = 900 + 300 + 600 = 1,800 micro-dollars.
    mini = PriceTable.load().price_for("gpt-4o-mini")
    assert mini is not None
    usage = Usage(10_000, 1000, 11_000, PromptTokensDetails(cached_tokens=4000))
    assert cost_usd(mini, usage) == 0.0018


def test_anthropic_cache_write_usage_through_the_adapter() -> None:
    # Anthropic reports input 100, cache read 2,000, cache write 1,000, output 300; the
    # adapter folds them into prompt_tokens 3,100. claude-sonnet-4-5:
    # 100 x 3 + 2,000 x 0.30 + 1,000 x 3.75 + 300 x 15 = 300 + 600 + 3,750 + 4,500 = 9,150.
    body = {
        "id": "msg_1",
        "type": "message",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "end_turn",
        "usage": {
            "input_tokens": 100,
            "output_tokens": 300,
            "cache_read_input_tokens": 2000,
            "cache_creation_input_tokens": 1000,
        },
    }
    usage = from_anthropic_response(body).usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.cached_tokens, usage.cache_creation_tokens) == (
        3100,
        2000,
        1000,
    )
    sonnet = PriceTable.load().price_for("claude-sonnet-4-5-20250929")
    assert sonnet is not None
    assert cost_usd(sonnet, usage) == 0.00915


def test_reasoning_tokens_are_not_counted_twice() -> None:
    # o3: 1,000 x 2 + 5,000 completion (4,000 of them reasoning) x 8 = 42,000, not 74,000.
    o3 = PriceTable.load().price_for("o3")
    assert o3 is not None
    usage = Usage(1000, 5000, 6000, None, CompletionTokensDetails(reasoning_tokens=4000))
    assert cost_usd(o3, usage) == 0.042


def test_reasoning_at_its_own_configured_rate() -> None:
    # 400 visible x 2 + 600 reasoning x 4 = 3,200 micro-dollars.
    priced = price(1, 2, reasoning=4)
    usage = Usage(0, 1000, 1000, None, CompletionTokensDetails(reasoning_tokens=600))
    assert cost_usd(priced, usage) == 0.0032


def test_cost_is_exact_decimal_arithmetic() -> None:
    # 3 x 0.1 is 0.30000000000000004 in binary floats; the cost is exactly 3e-7.
    assert cost_usd(price(0.1, 0), Usage(prompt_tokens=3)) == 3e-7
    assert cost_usd(price(0.1, 0), Usage()) == 0.0


def test_inconsistent_usage_never_goes_negative() -> None:
    usage = Usage(100, 0, 100, PromptTokensDetails(cached_tokens=500))
    assert cost_usd(price(1, 1, cached_input=0.5), usage) == 0.00025  # 500 x 0.5


def test_worst_case() -> None:
    prices = PriceTable.load()
    gpt4o = prices.price_for("gpt-4o")
    sonnet = prices.price_for("claude-sonnet-4-5")
    assert gpt4o is not None
    assert sonnet is not None
    # 1,000 x 2.50 + 2,000 x 10 = 22,500 micro-dollars.
    assert worst_case_usd(gpt4o, 1000, 2000) == 0.0225
    # Anthropic cache writes cost more than input: 1,000 x 3.75 + 2,000 x 15 = 33,750.
    assert worst_case_usd(sonnet, 1000, 2000) == 0.03375
    assert worst_case_usd(price(1, 2, reasoning=4), 0, 1000) == 0.004
    assert worst_case_usd(gpt4o, 0, 0) == 0.0
