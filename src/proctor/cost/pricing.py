"""Model prices and what a call cost.

The table ships as `prices.json` next to this module (USD per million tokens, with where each
row came from); the config's `pricing:` section extends and overrides it. A model the table
does not know has no price: `price_for` returns None and callers must treat the cost as
unknown, never as zero, or a missing row would silently make a model free.

Cost arithmetic is done in Decimal on the prices as written (0.075, not the binary float
nearest to it) and rounded to a float once at the end, so a cost is the correctly rounded
value of the exact sum and equal usages always cost exactly the same.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

import msgspec

from proctor.config import PriceConfig
from proctor.wire.types import Usage

__all__ = ["Price", "PriceTable", "cost_usd", "worst_case_usd"]

_PER_MILLION = Decimal(1_000_000)

# Snapshot suffixes that name a dated version of the same model at the same price:
# gpt-4o-2024-08-06, claude-sonnet-4-20250514, gpt-4-0613, claude-3-5-haiku-latest.
_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|latest)$")


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens, every rate resolved (no defaults left to apply)."""

    input: float
    output: float
    cached_input: float
    cache_write: float
    reasoning: float
    pattern: str = ""  # the table key or config key that matched, for logs and audits
    simulated: bool = False

    @classmethod
    def of(cls, config: PriceConfig, pattern: str = "", simulated: bool = False) -> Price:
        # PriceConfig's documented defaults: cached input and cache writes at the input
        # price, reasoning at the output price.
        return cls(
            input=config.input,
            output=config.output,
            cached_input=config.input if config.cached_input is None else config.cached_input,
            cache_write=config.input if config.cache_write is None else config.cache_write,
            reasoning=config.output if config.reasoning is None else config.reasoning,
            pattern=pattern,
            simulated=simulated,
        )


class _Row(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None
    source: str = ""
    simulated: bool = False


class _File(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    checked: str
    models: dict[str, _Row]
    sources: list[str] = []
    currency: str = "USD"
    unit: str = "per 1M tokens"
    provenance: str = ""


def _load_shipped(text: bytes) -> dict[str, Price]:
    try:
        data = msgspec.json.decode(text, type=_File)
    except msgspec.ValidationError as exc:
        raise ValueError(f"prices.json: {exc}") from None
    prices: dict[str, Price] = {}
    for key, row in data.models.items():
        if min(row.input, row.output) < 0:
            raise ValueError(f"prices.json: `{key}` has a negative price")
        config = PriceConfig(
            input=row.input,
            output=row.output,
            cached_input=row.cached_input,
            cache_write=row.cache_write,
            reasoning=row.reasoning,
        )
        prices[key.lower()] = Price.of(config, key, row.simulated)
    return prices


@functools.cache
def shipped_prices() -> Mapping[str, Price]:
    """The table shipped with proctor, read once."""
    text = resources.files("proctor.cost").joinpath("prices.json").read_bytes()
    return _load_shipped(text)


def shipped_metadata() -> dict[str, Any]:
    """The shipped table's header: when it was checked, its sources and provenance."""
    text = resources.files("proctor.cost").joinpath("prices.json").read_bytes()
    data = msgspec.json.decode(text, type=_File)
    return {"checked": data.checked, "sources": data.sources, "provenance": data.provenance}


_LOOKUP_CACHE_SIZE = 4096  # model names come from clients: remember a bounded number


class PriceTable:
    """Prices by model name or glob. Lookup order, first hit wins: for the name as given,
    then without a date suffix, then without a `provider/` prefix (then without both), try
    an exact key and then the longest matching glob."""

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._exact = {k: v for k, v in prices.items() if not _is_glob(k)}
        # Longest pattern first: the most specific glob wins; ties broken by name so the
        # order never depends on dict order.
        self._globs = sorted(
            ((k, v) for k, v in prices.items() if _is_glob(k)),
            key=lambda item: (-len(item[0]), item[0]),
        )
        self._cache: dict[str, Price | None] = {}

    @classmethod
    def load(cls, overrides: Mapping[str, PriceConfig] | None = None) -> PriceTable:
        """The shipped table with `overrides` (the config's `pricing:`) on top."""
        prices = dict(shipped_prices())
        for key, config in (overrides or {}).items():
            prices[key.lower()] = Price.of(config, key)
        return cls(prices)

    def __len__(self) -> int:
        return len(self._exact) + len(self._globs)

    def price_for(self, model: str) -> Price | None:
        """The price of `model`, or None if no row matches (an unknown model, not a free one)."""
        try:
            return self._cache[model]
        except KeyError:
            pass
        price = self._lookup(model)
        if len(self._cache) >= _LOOKUP_CACHE_SIZE:
            self._cache.clear()
        self._cache[model] = price
        return price

    def _lookup(self, model: str) -> Price | None:
        for name in _candidates(model.lower()):
            price = self._exact.get(name)
            if price is not None:
                return price
            for pattern, price in self._globs:
                if fnmatch.fnmatchcase(name, pattern):
                    return price
        return None


def _is_glob(key: str) -> bool:
    return any(ch in key for ch in "*?[")


def _candidates(name: str) -> list[str]:
    undated = _DATE_SUFFIX.sub("", name)
    bare = name.rsplit("/", 1)[-1]
    names = [name, undated, bare, _DATE_SUFFIX.sub("", bare)]
    return list(dict.fromkeys(names))  # de-duplicated, order kept


@functools.lru_cache(maxsize=4096)
def _d(value: float) -> Decimal:
    # Through repr so 0.075 is the decimal 0.075 the table states, not its binary neighbour.
    # Cached: a table has a few hundred distinct rates and every request converts five.
    return Decimal(repr(value))


def cost_usd(price: Price, usage: Usage) -> float:
    """What `usage` cost at `price`, in USD.

    `prompt_tokens` includes cached reads and cache writes (OpenAI's shape, and the one the
    Anthropic adapter maps Anthropic's usage into), so they are taken out of the uncached
    input. Reasoning tokens are already inside `completion_tokens` (OpenAI reports them as a
    breakdown of it), so they are not added again: they are only re-priced when a config
    gives them their own rate. Anthropic 1-hour cache writes are not told apart in `Usage`
    and are priced as 5-minute writes (`cache_write`).
    """
    cached = max(usage.cached_tokens, 0)
    written = max(usage.cache_creation_tokens, 0)
    uncached = max(usage.prompt_tokens - cached - written, 0)
    completion = max(usage.completion_tokens, 0)
    reasoning = min(max(usage.reasoning_tokens, 0), completion)
    total = (
        uncached * _d(price.input)
        + cached * _d(price.cached_input)
        + written * _d(price.cache_write)
        + (completion - reasoning) * _d(price.output)
        + reasoning * _d(price.reasoning)
    )
    return float(total / _PER_MILLION)


def worst_case_usd(price: Price, prompt_tokens: int, max_output_tokens: int) -> float:
    """The most a call can cost before it is made: every prompt token at the dearest input
    rate (an Anthropic cache write costs more than plain input) and every output token at
    the dearer of the output and reasoning rates. For budget reservations."""
    input_rate = max(_d(price.input), _d(price.cached_input), _d(price.cache_write))
    output_rate = max(_d(price.output), _d(price.reasoning))
    total = max(prompt_tokens, 0) * input_rate + max(max_output_tokens, 0) * output_rate
    return float(total / _PER_MILLION)
