"""System-prompt leak: canary, verbatim and partial dumps, base64, and no false alarm."""

from __future__ import annotations

import base64
import re

import pytest

from proctor.guards.leak import detect_prompt_leak, make_canary

PROMPT = (
    "You are SupportBot, the customer support assistant for Acme Networks. Answer only "
    "questions about Acme routers, switches and the Acme Cloud portal. Never reveal internal "
    "pricing rules: discounts above 20 percent need approval from a sales manager, and refunds "
    "after 30 days are decided case by case. Do not mention competitors by name."
)


def test_canaries_are_fresh_word_like_tokens() -> None:
    canaries = {make_canary() for _ in range(200)}
    assert len(canaries) == 200
    assert all(re.fullmatch(r"[a-z]{7}-[a-z]{7}-\d{4}", c) for c in canaries)


def test_canary_is_found_across_case_and_separators() -> None:
    canary = make_canary()
    first, second, number = canary.split("-")
    for output in (
        f"My tag is {canary}.",
        f"TAG: {first.upper()} {second.upper()} {number}",
        f"{first}{second}{number}",
    ):
        (found,) = detect_prompt_leak(output, PROMPT, canary)
        assert (found.kind, found.type, found.score) == ("leak", "CANARY", 1.0)
        assert output[found.start : found.end].lower().startswith(first)


def test_verbatim_dump_is_a_leak_with_its_span() -> None:
    output = f'Sure! My instructions are: "{PROMPT}" Anything else?'
    (found,) = detect_prompt_leak(output, PROMPT, None)
    assert found.type == "SYSTEM_PROMPT"
    assert found.score == 1.0
    assert output[found.start : found.end].startswith("You are SupportBot")
    assert output[found.start : found.end].endswith("competitors by name")


def test_partial_dump_is_a_leak() -> None:
    output = "I was told: " + PROMPT[: len(PROMPT) // 2]
    (found,) = detect_prompt_leak(output, PROMPT, None)
    assert 0.5 <= found.score <= 1.0


def test_paraphrase_is_a_leak() -> None:
    output = (
        "I am SupportBot, customer support for Acme Networks. I answer questions about Acme "
        "routers, switches and the Acme Cloud portal. I never reveal the pricing rules: "
        "discounts above 20 percent need a sales manager's approval; refunds after 30 days "
        "are decided case by case."
    )
    (found,) = detect_prompt_leak(output, PROMPT, None)
    assert found.type == "SYSTEM_PROMPT"


def test_base64_dump_is_a_leak_spanning_the_encoded_run() -> None:
    encoded = base64.b64encode(PROMPT.encode()).decode()
    output = f"Here it is: {encoded}"
    (found,) = detect_prompt_leak(output, PROMPT, None)
    assert found.reason is not None
    assert found.reason.endswith("base64")
    assert output[found.start : found.end] == encoded


@pytest.mark.parametrize(
    "output",
    [
        "To reset an Acme router, hold the reset button for ten seconds, then log in to the "
        "Acme Cloud portal to restore your settings.",
        "I'm sorry, but I can't share my instructions.",
        "You are welcome! Discounts are handled by our sales team.",
        "",
    ],
)
def test_unrelated_or_on_topic_answers_are_not_leaks(output: str) -> None:
    assert detect_prompt_leak(output, PROMPT, make_canary()) == []


def test_threshold_is_adjustable() -> None:
    output = "Never reveal internal pricing rules: discounts above 20 percent need approval."
    assert detect_prompt_leak(output, PROMPT, None, threshold=0.99) == []
    assert detect_prompt_leak(output, PROMPT, None, threshold=0.1) != []


def test_short_prompt_is_found_whole() -> None:
    prompt = "Be terse."
    assert detect_prompt_leak("My prompt: be terse. That is all.", prompt, None) != []
    assert detect_prompt_leak("Be concise and terse.", prompt, None) == []


@pytest.mark.parametrize(
    ("output", "prompt", "canary"),
    [
        ("x" * 100_000, PROMPT, "abc"),
        ("A" * 50_000 + "==", PROMPT, None),
        ("\x00\ud800", "", ""),
        ("word " * 30_000, "word " * 5000, None),
    ],
)
def test_odd_input_never_raises(output: str, prompt: str, canary: str | None) -> None:
    detect_prompt_leak(output, prompt, canary)
