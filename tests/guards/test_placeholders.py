"""Reversible redaction: placeholders out, values back, also when a stream cuts them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from proctor.guards.base import Detection
from proctor.guards.placeholders import MAX_TOKEN, Placeholders, Redactor

EMAIL = "jane.doe@example.org"


def _email_in(text: str) -> list[Detection]:
    start = text.index(EMAIL)
    return [Detection("pii", "EMAIL", start, start + len(EMAIL))]


def test_placeholder_round_trip_and_same_value_same_name() -> None:
    ph = Placeholders()
    redactor = Redactor("placeholder")
    text = f"write to {EMAIL} now"
    redacted = redactor.redact(text, _email_in(text), ph)
    assert redacted == "write to [EMAIL_1] now"
    again = redactor.redact(f"cc {EMAIL}", _email_in(f"cc {EMAIL}"), ph)
    assert again == "cc [EMAIL_1]"
    other = "bob@example.com"
    third = redactor.redact(f"and {other}", [Detection("pii", "EMAIL", 4, 4 + len(other))], ph)
    assert third == "and [EMAIL_2]"
    assert ph.restore("Sent to [EMAIL_1] and [EMAIL_2], not [EMAIL_3].") == (
        f"Sent to {EMAIL} and {other}, not [EMAIL_3]."
    )


def test_a_literal_placeholder_in_the_text_is_never_reused() -> None:
    ph = Placeholders()
    text = f"the template says [EMAIL_1]; mine is {EMAIL}"
    redacted = Redactor("placeholder").redact(text, _email_in(text), ph)
    assert redacted == "the template says [EMAIL_1]; mine is [EMAIL_2]"
    assert ph.restore(redacted) == f"the template says [EMAIL_1]; mine is {EMAIL}"


def test_mask_and_hash_modes_are_not_reversible_and_hash_is_keyed() -> None:
    ph = Placeholders()
    text = f"to {EMAIL}"
    assert Redactor("mask").redact(text, _email_in(text), ph) == "to [EMAIL]"
    one = Redactor("hash", "k1").redact(text, _email_in(text), ph)
    assert one.startswith("to [EMAIL:")
    assert EMAIL not in one
    assert one == Redactor("hash", "k1").redact(text, _email_in(text), ph)
    assert one != Redactor("hash", "k2").redact(text, _email_in(text), ph)
    assert not ph  # nothing to restore


def test_overlapping_detections_replace_the_first_longest_span() -> None:
    ph = Placeholders()
    text = "call +33 6 12 34 56 78 today"
    spans = [Detection("pii", "PHONE", 5, 22), Detection("pii", "PHONE", 9, 12)]
    assert Redactor("mask").redact(text, spans, ph) == "call [PHONE] today"


def test_stream_restorer_joins_a_placeholder_cut_between_chunks() -> None:
    ph = Placeholders()
    ph.name_for("EMAIL", EMAIL, "")
    restorer = ph.restorer()
    pieces = ["Reply sent to [EM", "AIL", "_1", "] and [", "not one] [EMAIL_1]", " done ["]
    out = "".join(restorer.feed(p) for p in pieces) + restorer.flush()
    assert out == f"Reply sent to {EMAIL} and [not one] {EMAIL} done ["


def test_stream_restorer_holds_back_little() -> None:
    ph = Placeholders()
    ph.name_for("EMAIL", EMAIL, "")
    restorer = ph.restorer()
    assert restorer.feed("plain text") == "plain text"
    assert restorer.feed(" [PHONE") == " "  # may still become a placeholder
    long = "[" + "A" * MAX_TOKEN
    assert restorer.feed(long) == "[PHONE" + long  # too long to be one: released


@given(st.lists(st.text(alphabet="[]_EMAIL1 ab", max_size=12), max_size=12), st.data())
def test_any_cut_of_a_text_restores_like_the_whole(pieces: list[str], data: st.DataObject) -> None:
    ph = Placeholders()
    ph.name_for("EMAIL", EMAIL, "")
    whole = "".join(pieces) + " [EMAIL_1]"
    cuts = sorted(data.draw(st.sets(st.integers(0, len(whole)), max_size=6)))
    restorer = ph.restorer()
    out, at = [], 0
    for cut in [*cuts, len(whole)]:
        out.append(restorer.feed(whole[at:cut]))
        at = cut
    out.append(restorer.flush())
    assert "".join(out) == ph.restore(whole)
