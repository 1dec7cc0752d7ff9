"""Cost: offline token counting (`tokenizer`) and model prices with cost arithmetic
(`pricing`)."""

from proctor.cost.pricing import Price, PriceTable, cost_usd, worst_case_usd
from proctor.cost.tokenizer import (
    Tokenization,
    count_tokens,
    estimate_prompt_tokens,
    preload,
    tokenization_for,
)

__all__ = [
    "Price",
    "PriceTable",
    "Tokenization",
    "cost_usd",
    "count_tokens",
    "estimate_prompt_tokens",
    "preload",
    "tokenization_for",
    "worst_case_usd",
]
