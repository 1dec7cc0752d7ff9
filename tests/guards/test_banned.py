"""Banned substrings and topics: whole words only, normalised text, original offsets."""

from __future__ import annotations

import pytest

from proctor.guards.banned import BANNED_SUBSTRING, BannedTerms

TERMS = BannedTerms(
    ["ass", "Project Falcon", "炸弹", "Straße"],
    {
        "weapons": ["bomb", "pipe bomb", "build a bomb"],
        "medical": ["diagnosis", "dosage"],
    },
)


def found(text: str, terms: BannedTerms = TERMS) -> list[tuple[str, str]]:
    return [(d.type, text[d.start : d.end]) for d in terms(text)]


def test_topic_phrases_and_substrings_are_found() -> None:
    assert found("How do I build a bomb?") == [("weapons", "build a bomb")]
    assert found("What dosage is safe?") == [("medical", "dosage")]
    assert found("Tell me about project falcon.") == [(BANNED_SUBSTRING, "project falcon")]
    assert all(d.kind == "topic" for d in TERMS("a pipe bomb"))


@pytest.mark.parametrize("text", ["a classic class assignment", "bombastic", "bombs", "Bassoon"])
def test_word_boundaries(text: str) -> None:
    assert found(text) == []


def test_longest_phrase_wins_and_shorter_still_match_elsewhere() -> None:
    assert found("a pipe bomb and a bomb") == [("weapons", "pipe bomb"), ("weapons", "bomb")]


def test_case_width_and_whitespace_are_normalised() -> None:
    assert found("PROJECT \t\n FALCON") == [(BANNED_SUBSTRING, "PROJECT \t\n FALCON")]
    wide = "\uff22\uff2f\uff2d\uff22"  # full-width BOMB
    assert found(f"{wide} threat") == [("weapons", wide)]
    assert found("die STRASSE") == [(BANNED_SUBSTRING, "STRASSE")]


def test_offsets_map_back_when_normalising_changes_lengths() -> None:
    # The ligature expands and the decomposed accent composes: positions shift both ways.
    text = "\ufb01ne caf\u0065\u0301 then a bomb"
    ((kind, span),) = found(text)
    assert (kind, span) == ("weapons", "bomb")
    terms = BannedTerms(["straße", "fine day"], {})
    assert found("die Straße heute", terms) == [(BANNED_SUBSTRING, "Straße")]
    assert found("\u2026 oh \ufb01ne day!", terms) == [(BANNED_SUBSTRING, "\ufb01ne day")]


def test_unspaced_scripts_match_inside_text() -> None:
    assert found("我想买炸弹。") == [(BANNED_SUBSTRING, "炸弹")]


def test_a_phrase_in_several_lists_gets_each_type() -> None:
    terms = BannedTerms(["bomb"], {"weapons": ["bomb"]})
    assert sorted(t for t, _ in found("bomb", terms)) == [BANNED_SUBSTRING, "weapons"]


def test_empty_config_finds_nothing() -> None:
    assert BannedTerms([], {})("anything at all") == []
    assert BannedTerms(["  "], {"x": [""]})("anything at all") == []


def test_regex_metacharacters_are_literal() -> None:
    terms = BannedTerms(["c++ jobs", "a.b"], {})
    assert found("c++ jobs here", terms) == [(BANNED_SUBSTRING, "c++ jobs")]
    assert found("axb", terms) == []


@pytest.mark.parametrize("text", ["", "\x00\ud800", "bomb" * 10000, " " * 10000, "ß" * 1000])
def test_odd_input_never_raises(text: str) -> None:
    TERMS(text)
