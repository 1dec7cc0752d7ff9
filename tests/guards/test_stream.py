"""The sliding window over a streamed reply: matches across chunks, holdback, clean stops."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from proctor.guards.base import Detection
from proctor.guards.placeholders import Placeholders, Redactor
from proctor.guards.policy import Check
from proctor.guards.stream import WindowScanner, guard_stream, restore_stream
from proctor.wire.types import ChatChunk, ChunkChoice, Delta, FunctionCallDelta, ToolCallDelta

KEY = re.compile(r"KEY-[0-9]{8}")


def _keys(text: str) -> list[Detection]:
    return [
        Detection("secret", "TEST_KEY", m.start(), m.end(), 1.0, "test-key")
        for m in KEY.finditer(text)
    ]


def _check(action: str) -> Check:
    redactor = Redactor("mask") if action == "redact" else None
    return Check("output_secrets", action, _keys, redactor=redactor)


def _feed(scanner: WindowScanner, pieces: Sequence[str]) -> str:
    out = [scanner.feed(p) for p in pieces]
    out.append(scanner.finish())
    return "".join(out)


def _cut(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def test_a_match_cut_between_chunks_is_found_once_at_its_offset() -> None:
    text = "x" * 150 + "KEY-12345678" + "y" * 300 + "KEY-87654321" + "z" * 10
    scanner = WindowScanner([_check("flag")], step=32, overlap=16)
    assert _feed(scanner, _cut(text, 7)) == text  # flag-only: pieces pass on at once
    spans = [(f.start, f.end) for f in scanner.findings]
    assert spans == [(150, 162), (462, 474)]
    assert all(f.stage == "guard_out" and f.message is None for f in scanner.findings)


def test_flag_only_passes_text_through_unchanged_and_unheld() -> None:
    scanner = WindowScanner([_check("flag")], step=32, overlap=16)
    assert scanner.feed("KEY-1234") == "KEY-1234"
    assert scanner.feed("5678 and on") == "5678 and on"


def test_holdback_redacts_before_any_part_of_a_match_is_released() -> None:
    text = "a" * 40 + "KEY-12345678" + "b" * 40
    scanner = WindowScanner([_check("redact")], step=16, overlap=16, holdback=True)
    released = []
    for piece in _cut(text, 5):
        out = scanner.feed(piece)
        released.append(out)
        assert "KEY-" not in "".join(released) or "[TEST_KEY]" in "".join(released)
    released.append(scanner.finish())
    assert "".join(released) == "a" * 40 + "[TEST_KEY]" + "b" * 40


def test_holdback_block_stops_before_the_match_is_released() -> None:
    text = "a" * 100 + "KEY-12345678" + "b" * 100
    scanner = WindowScanner([_check("block")], step=16, overlap=16, holdback=True)
    out = _feed(scanner, _cut(text, 3))
    assert scanner.blocked is not None
    assert scanner.blocked.type == "TEST_KEY"
    assert "KEY-1" not in out
    assert out == text[: len(out)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(["KEY-12345678", "KEY-1234567", " ", "x" * 7, "KEY-", "9"]), max_size=40
    ),
    st.integers(1, 9),
    st.integers(16, 64),
)
def test_the_window_finds_what_a_whole_scan_finds(parts: list[str], size: int, step: int) -> None:
    text = "".join(parts)
    scanner = WindowScanner([_check("flag")], step=step, overlap=16)
    _feed(scanner, _cut(text, size))
    assert [(f.start, f.end) for f in scanner.findings] == [(d.start, d.end) for d in _keys(text)]


def _chunk(content: str | None = None, finish: str | None = None, **delta: object) -> ChatChunk:
    return ChatChunk("c1", 1, "m", [ChunkChoice(0, Delta(content=content, **delta), finish)])  # type: ignore[arg-type]


async def _stream(chunks: list[ChatChunk]) -> AsyncIterator[ChatChunk]:
    for chunk in chunks:
        yield chunk


async def test_guard_stream_ends_cleanly_with_content_filter_and_closes_upstream() -> None:
    closed = []

    async def upstream() -> AsyncIterator[ChatChunk]:
        try:
            yield _chunk("", role="assistant")
            for piece in _cut("safe text " * 5 + "KEY-12345678 and the rest", 4):
                yield _chunk(piece)
            yield _chunk(None, "stop")
        finally:
            closed.append(True)

    scanner = WindowScanner([_check("block")], step=16, overlap=16, holdback=True, refusal="No.")
    out = [c async for c in guard_stream(upstream(), scanner)]
    assert out[-1].choices[0].finish_reason == "content_filter"
    assert out[-1].choices[0].delta.content == "\n\nNo."  # after what was already sent
    text = "".join(c.choices[0].delta.content or "" for c in out[:-1])
    assert "KEY-" not in text
    assert text.startswith("safe text")
    assert closed == [True]
    assert [c.choices[0].finish_reason for c in out].count("content_filter") == 1


async def test_guard_stream_flushes_held_text_with_the_finish_chunk() -> None:
    scanner = WindowScanner([_check("redact")], step=16, overlap=16, holdback=True)
    chunks = [_chunk("hello KEY-1234"), _chunk("5678 bye"), _chunk(None, "stop")]
    out = [c async for c in guard_stream(_stream(chunks), scanner)]
    assert "".join(c.choices[0].delta.content or "" for c in out) == "hello [TEST_KEY] bye"
    assert out[-1].choices[0].finish_reason == "stop"


async def test_restore_stream_in_text_and_tool_arguments_across_chunks() -> None:
    ph = Placeholders()
    ph.name_for("EMAIL", "a@b.io", "")

    def call(arguments: str) -> list[ToolCallDelta]:
        return [ToolCallDelta(0, function=FunctionCallDelta(arguments=arguments))]

    chunks = [
        _chunk("to [EMA"),
        _chunk("IL_1]."),
        _chunk(None, tool_calls=call('{"to": "[EMAIL')),
        _chunk(None, tool_calls=call("_1]")),
        _chunk(None, "tool_calls"),
    ]
    out = [c async for c in restore_stream(_stream(chunks), ph)]
    text = "".join(c.choices[0].delta.content or "" for c in out)
    arguments = "".join(
        call.function.arguments or ""
        for c in out
        for call in c.choices[0].delta.tool_calls or ()
        if call.function is not None
    )
    assert text == "to a@b.io."
    assert arguments == '{"to": "a@b.io'
