"""Token counts against numbers OpenAI documents (its cookbook "How to count tokens with
tiktoken", whose chat examples were checked there against what the API billed)."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest
import quicktok  # type: ignore[import-untyped]

from proctor.cost.tokenizer import (
    Tokenization,
    count_tokens,
    estimate_prompt_tokens,
    preload,
    tokenization_for,
)
from proctor.wire.types import ChatRequest

# The cookbook's example conversation: the API billed 129 prompt tokens on gpt-4 /
# gpt-3.5-turbo (cl100k_base) and 124 on gpt-4o / gpt-4o-mini (o200k_base).
JARGON = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on "
        "opportunities for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]

# The cookbook's tool example: billed 105 on gpt-3.5-turbo / gpt-4, 101 on gpt-4o(-mini).
WEATHER_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA",
                    },
                    "unit": {
                        "type": "string",
                        "description": "The unit of temperature to return",
                        "enum": ["celsius", "fahrenheit"],
                    },
                },
                "required": ["location"],
            },
        },
    }
]
WEATHER_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful assistant that can answer to questions about the weather.",
    },
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]


def request(model: str, messages: list[dict[str, Any]], **extra: Any) -> ChatRequest:
    return msgspec.convert({"model": model, "messages": messages, **extra}, ChatRequest)


@pytest.mark.parametrize("model", ["gpt-4", "gpt-4o"])
def test_hello_world_is_two_tokens(model: str) -> None:
    assert count_tokens("hello world", model) == 2


def test_cookbook_token_ids_cl100k() -> None:
    # The ids the cookbook prints for cl100k_base: the vocabulary is tiktoken's own.
    encoding = quicktok.get_encoding("cl100k_base")
    assert encoding.encode("tiktoken is great!") == [83, 1609, 5963, 374, 2294, 0]
    assert encoding.encode("hello world") == [15339, 1917]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("tiktoken is great!", 6), ("antidisestablishmentarianism", 6), ("2 + 2 = 4", 7)],
)
def test_cookbook_counts_cl100k(text: str, expected: int) -> None:
    assert count_tokens(text, "gpt-4") == expected


def test_cookbook_counts_japanese_cl100k() -> None:
    assert count_tokens("お誕生日おめでとう", "gpt-3.5-turbo") == 9


def test_special_token_text_is_ordinary_text() -> None:
    # A user may type "<|endoftext|>": it must count as text, never raise or be special.
    assert count_tokens("<|endoftext|>", "gpt-4o") > 1


def test_empty_text() -> None:
    assert count_tokens("", "gpt-4o") == 0
    assert count_tokens("", "claude-sonnet-4-5") == 0


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4-0613", 129),
        ("gpt-4", 129),
        ("gpt-3.5-turbo", 129),
        ("gpt-4o", 124),
        ("gpt-4o-mini-2024-07-18", 124),
    ],
)
def test_chat_framing_matches_cookbook(model: str, expected: int) -> None:
    assert estimate_prompt_tokens(request(model, JARGON)) == expected


@pytest.mark.parametrize(
    ("model", "expected"),
    [("gpt-3.5-turbo", 105), ("gpt-4", 105), ("gpt-4o", 101), ("gpt-4o-mini", 101)],
)
def test_tool_definitions_match_cookbook(model: str, expected: int) -> None:
    req = request(model, WEATHER_MESSAGES, tools=WEATHER_TOOLS)
    assert estimate_prompt_tokens(req) == expected


def test_framing_by_hand() -> None:
    # 3 (reply priming) + per message: 3 + role + content (+ name + 1).
    req = request("gpt-4o", [{"role": "user", "name": "bob", "content": "hello world"}])
    user, bob = count_tokens("user", "gpt-4o"), count_tokens("bob", "gpt-4o")
    assert estimate_prompt_tokens(req) == 3 + 3 + user + 2 + bob + 1
    assert estimate_prompt_tokens(request("gpt-4o", [])) == 3


def test_model_argument_overrides_request_model() -> None:
    req = request("chat", JARGON)  # a proctor alias, not a provider model
    assert estimate_prompt_tokens(req, "gpt-4") == 129
    assert estimate_prompt_tokens(req, "gpt-4o") == 124


def test_images_are_not_counted_as_text() -> None:
    parts = [
        {"type": "text", "text": "hello world"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    with_image = request("gpt-4o", [{"role": "user", "content": parts}])
    text_only = request("gpt-4o", [{"role": "user", "content": "hello world"}])
    assert estimate_prompt_tokens(with_image) == estimate_prompt_tokens(text_only)


def test_tool_calls_and_results_add_tokens() -> None:
    base: list[dict[str, Any]] = [{"role": "user", "content": "weather?"}]
    call: dict[str, Any] = {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_current_weather", "arguments": '{"location":"Paris"}'},
            }
        ],
    }
    result: dict[str, Any] = {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}
    counts = [
        estimate_prompt_tokens(request("gpt-4o", messages))
        for messages in (base, [*base, call], [*base, call, result])
    ]
    assert counts[0] < counts[1] < counts[2]


def test_nested_schemas_and_response_format_add_tokens() -> None:
    flat = {"type": "function", "function": {"name": "f", "parameters": {"properties": {}}}}
    nested = {
        "type": "function",
        "function": {
            "name": "f",
            "parameters": {
                "properties": {
                    "items": {"type": "array", "items": {"type": "object", "properties": {}}}
                }
            },
        },
    }
    base = estimate_prompt_tokens(request("gpt-4o", WEATHER_MESSAGES, tools=[flat]))
    assert estimate_prompt_tokens(request("gpt-4o", WEATHER_MESSAGES, tools=[nested])) > base
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    plain = estimate_prompt_tokens(request("gpt-4o", WEATHER_MESSAGES))
    with_format = estimate_prompt_tokens(request("gpt-4o", WEATHER_MESSAGES, response_format=fmt))
    assert with_format > plain


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini-2025-04-16", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("gpt-oss-120b", "o200k_harmony"),
        ("openai/gpt-oss-20b", "o200k_harmony"),
        ("llama3.1:8b", "llama3"),
        ("meta-llama/Llama-3.1-8B-Instruct", "llama3"),
        ("llama-3.3-70b-versatile", "llama3"),
        ("qwen3-32b", "qwen3"),
        ("Qwen/Qwen2.5-7B-Instruct", "qwen3"),
    ],
)
def test_exact_encoding_by_model(model: str, encoding: str) -> None:
    assert tokenization_for(model) == Tokenization(encoding, 1.0, exact=True)


@pytest.mark.parametrize(
    ("model", "factor"),
    [
        ("claude-sonnet-4-5-20250929", 1.16),
        ("claude-3-5-haiku-latest", 1.16),
        ("claude-opus-4-1", 1.16),
        ("anthropic/claude-haiku-4-5", 1.16),
        ("claude-opus-4-7", 1.51),
        ("claude-sonnet-5-5", 1.51),
        ("claude-haiku-5-5", 1.51),
        ("mistral-large-latest", 1.0),
        ("gemini-2.5-pro", 1.0),
        ("some-unknown-model", 1.0),
    ],
)
def test_calibrated_families(model: str, factor: float) -> None:
    tokenization = tokenization_for(model)
    assert tokenization == Tokenization("o200k_base", factor, exact=False)
    text = "Calibrated counts scale the o200k_base count by the family's factor."
    assert count_tokens(text, model) == math.ceil(count_tokens(text, "gpt-4o") * factor)


def test_calibrated_chat_estimate_scales_the_whole_prompt() -> None:
    openai = estimate_prompt_tokens(request("gpt-4o", JARGON))
    assert estimate_prompt_tokens(request("claude-sonnet-4-5", JARGON)) == math.ceil(openai * 1.16)


def test_preload_accepts_any_names() -> None:
    preload(["gpt-4o", "gpt-4", "claude-sonnet-4-5", "not-a-model"])
