"""Toxicity classifier: the shipped model loads, separates clearly toxic from clearly benign
text, types hate, finds one insult in a long text, and never raises."""

from __future__ import annotations

import pytest

from proctor.guards.toxicity import (
    DEFAULT_THRESHOLD,
    HATE_THRESHOLD,
    detect_toxicity,
    load_model,
    toxicity_score,
)

TOXIC = [
    "fuck you, you worthless piece of shit",
    "shut the fuck up you stupid bitch",
    "what a dumb bitch, nobody likes you",
]
HATEFUL = [
    "Muslims are vermin and should all be exterminated.",
    "I hate immigrants, they are disgusting animals.",
]
BENIGN = [
    "Thanks, that answer was really helpful!",
    "Can you help me write a cover letter for a nursing job?",
    "The kill command terminates a process in Linux.",
    "What is the weather going to be like in Lisbon tomorrow?",
    "Please summarise the attached quarterly report in three bullet points.",
]


def test_model_loads_with_sane_thresholds() -> None:
    model = load_model()
    assert model.toxic.shape == model.hate.shape
    assert 0.0 < DEFAULT_THRESHOLD < 1.0
    assert 0.0 < HATE_THRESHOLD < 1.0


@pytest.mark.parametrize("text", TOXIC + HATEFUL)
def test_clearly_toxic_text_is_detected(text: str) -> None:
    (found,) = detect_toxicity(text)
    assert found.kind == "toxicity"
    assert found.type in ("TOXIC", "HATE")
    assert (found.start, found.end) == (0, len(text))
    assert found.score >= DEFAULT_THRESHOLD


@pytest.mark.parametrize("text", HATEFUL)
def test_hate_is_typed_as_hate(text: str) -> None:
    assert [d.type for d in detect_toxicity(text)] == ["HATE"]


@pytest.mark.parametrize("text", BENIGN)
def test_clearly_benign_text_is_not_detected(text: str) -> None:
    assert detect_toxicity(text) == []


def test_scores_separate_the_two_groups() -> None:
    worst_benign = max(toxicity_score(t) for t in BENIGN)
    best_toxic = min(toxicity_score(t) for t in TOXIC + HATEFUL)
    assert worst_benign < DEFAULT_THRESHOLD <= best_toxic


def test_one_insult_in_a_long_text_is_not_diluted() -> None:
    filler = " ".join(BENIGN * 8)
    assert detect_toxicity(filler) == []
    text = f"{filler} {TOXIC[0]} {filler}"
    assert len(text) > 2000
    assert detect_toxicity(text) != []


def test_threshold_argument() -> None:
    assert detect_toxicity(TOXIC[0], threshold=1.01) == []
    assert detect_toxicity(BENIGN[0], threshold=0.0) != []


@pytest.mark.parametrize(
    "text",
    ["", "   ", "\x00\x01", "\ud800", "🙂" * 500, "a" * 200_000, "&amp;" * 1000, "@x " * 500],
)
def test_odd_input_never_raises(text: str) -> None:
    score = toxicity_score(text)
    assert 0.0 <= score <= 1.0
    detect_toxicity(text)
