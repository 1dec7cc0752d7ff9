"""Guards over a streamed reply: a sliding window, and placeholders restored on the fly.

`WindowScanner` reads the reply's text as it comes and scans it every `step` new
characters, each window starting with the last `overlap` characters of the one before, so a
match cut between two chunks (or two windows) is still found whole; memory is one window.
A detection that touches the end of a window may continue in the next chunk: it is left for
the next window, which sees it whole (matches up to `overlap` characters long). Classifier
verdicts (a detection spanning the whole window) are reported once per rule and type.

When an output rule may block or redact, the scanner holds back the last `overlap`
characters until they have been scanned with what follows, so no part of a match shorter
than that reaches the caller before the rule has seen it: the caller reads the reply
`overlap` characters late. Flag-only rules hold nothing back.

`guard_stream` stops a stream mid-way with a clean end: a last chunk whose finish_reason is
`content_filter`, which the wire layer turns into OpenAI's final chunk and `[DONE]`, or
Anthropic's `message_delta` (stop_reason `refusal`) and `message_stop`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from proctor.context import Finding
from proctor.guards.inputs import detect, finding
from proctor.guards.placeholders import Placeholders, StreamRestorer
from proctor.guards.policy import Check
from proctor.wire.types import ChatChunk, ChunkChoice, Delta, FunctionCallDelta, ToolCallDelta


@dataclass(slots=True)
class WindowScanner:
    checks: Sequence[Check]
    step: int = 192
    overlap: int = 64
    holdback: bool = False
    stage: str = "guard_out"
    refusal: str | None = None  # what a stopped stream ends with (block_response: refusal)
    released: int = 0  # characters let through so far (holdback)
    received: int = 0  # characters the provider sent so far
    findings: list[Finding] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    blocked: Finding | None = None
    _tail: str = ""  # the end of the scanned text (held back from the caller in holdback)
    _pending: str = ""  # received, not yet scanned
    _base: int = 0  # offset of _tail in the whole reply
    _reported_to: int = 0  # detections ending before this were reported by an earlier window
    _verdicts: set[tuple[str, str]] = field(default_factory=set)
    _placeholders: Placeholders = field(default_factory=Placeholders)

    def fork(self) -> WindowScanner:
        """A scanner for another choice of the same reply: same rules, findings and errors
        recorded in the same lists, a window of its own."""
        return WindowScanner(
            self.checks,
            self.step,
            self.overlap,
            self.holdback,
            self.stage,
            self.refusal,
            findings=self.findings,
            errors=self.errors,
        )

    def feed(self, text: str) -> str:
        """Take the next piece of the reply; return what may be sent on now."""
        if self.blocked is not None:
            return ""
        self.received += len(text)
        self._pending += text
        if len(self._pending) < self.step:
            return "" if self.holdback else text
        released = self._scan(final=False)
        return released if self.holdback else text

    @property
    def unsent(self) -> int:
        """Characters the provider generated that never reached the caller (held back when
        the stream was stopped): still paid for."""
        return self.received - self.released if self.holdback else 0

    def finish(self) -> str:
        """Scan what is left; return the rest of the text that may still be sent."""
        if self.blocked is not None:
            return ""
        released = self._scan(final=True)
        return released if self.holdback else ""

    def _scan(self, *, final: bool) -> str:
        window = self._tail + self._pending
        self._pending = ""
        if not window:
            return ""
        start_at = self._base
        for check in self.checks:
            found = detect(check, window, self.errors)
            hits: list[int] = []
            for i, d in enumerate(found):
                if d.start == 0 and d.end == len(window):  # a verdict on the whole window
                    key = (check.rule, d.type)
                    if key in self._verdicts:
                        continue
                    self._verdicts.add(key)
                elif start_at + d.end < self._reported_to or (not final and d.end == len(window)):
                    continue  # reported by the last window, or may go on in the next one
                self.findings.append(finding(self.stage, check, d, None, start_at))
                hits.append(i)
                if check.action == "block" and self.blocked is None:
                    self.blocked = self.findings[-1]
            if hits and check.action == "redact" and check.redactor is not None:
                window = check.redactor.redact(window, [found[i] for i in hits], self._placeholders)
        if self.blocked is not None:
            return ""
        keep = 0 if final else min(self.overlap, len(window))
        cut = len(window) - keep
        released = window[:cut] if self.holdback else ""
        self.released += len(released)
        self._tail = window[cut:]
        self._base = start_at + cut
        self._reported_to = start_at + len(window)
        return released


def stop_chunk(last: ChatChunk | None, scanner: WindowScanner) -> ChatChunk:
    """The clean end of a stream a guard stopped: the refusal message, when blocks answer
    with one (after a blank line if part of the reply already went out)."""
    ident = last.id if last is not None else "chatcmpl-proctor-guard"
    model = last.model if last is not None else "proctor/guard"
    created = last.created if last is not None else 0
    text = scanner.refusal or ""
    if text and scanner.released:
        text = "\n\n" + text
    return ChatChunk(ident, created, model, [ChunkChoice(0, Delta(content=text), "content_filter")])


async def guard_stream(
    chunks: AsyncIterator[ChatChunk],
    scanner: WindowScanner,
    on_end: Callable[[WindowScanner], None] | None = None,
    restorer: ChunkRestorer | None = None,
) -> AsyncIterator[ChatChunk]:
    """`chunks` with the first choice's text scanned, held back or redacted as the scanner
    says; on a block, a `content_filter` end instead of the rest (the upstream is closed).
    Then, when given, `restorer` puts the request's placeholders back (one generator for
    both: each layer costs every chunk a hop). `on_end` runs when the stream is over,
    however it ended."""
    last: ChatChunk | None = None
    # Flag-only rules never block nor change the text: the usual chunk (one choice, text,
    # no finish) only feeds the scanner. Every chunk passes here, so it is kept short.
    flag_only = not scanner.holdback
    # The other texts' scanners, made as they appear: (choice, -1) the text of another
    # choice when `n` > 1, (choice, call) the arguments of a tool call.
    others: dict[tuple[int, int], WindowScanner] = {}
    try:
        async for chunk in chunks:
            last = chunk
            choices = chunk.choices
            if (
                flag_only
                and len(choices) == 1
                and choices[0].index == 0
                and choices[0].finish_reason is None
                and not choices[0].delta.tool_calls
            ):
                if content := choices[0].delta.content:
                    scanner.feed(content)
            else:
                blocked = _scan_chunk(chunk, scanner, others)
                if blocked is not None:
                    yield stop_chunk(last, blocked)
                    return
            if restorer is not None:
                restorer.chunk(chunk)
            yield chunk
        for tail in _ending(last, scanner, restorer, others):
            yield tail
    finally:
        if on_end is not None:
            on_end(scanner)
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


def _scan_chunk(
    chunk: ChatChunk, scanner: WindowScanner, others: dict[tuple[int, int], WindowScanner]
) -> WindowScanner | None:
    """Feed each choice's text and tool call arguments to their scanners (the first
    choice's text is `scanner`'s); the chunk keeps what may be sent. Returns the scanner
    that blocked, if one did."""
    for choice in chunk.choices:
        index = choice.index
        delta = choice.delta
        own = _scanner_for(scanner, others, (index, -1))
        text = own.feed(delta.content) if delta.content else None
        for call in delta.tool_calls or ():
            function = call.function
            if function is not None and function.arguments:
                arguments = _scanner_for(scanner, others, (index, call.index))
                function.arguments = arguments.feed(function.arguments)
                if arguments.blocked is not None:
                    return arguments
        if choice.finish_reason is not None:
            if rest := own.finish():
                text = (text or "") + rest
            if (blocked := _finish_calls(delta, index, others)) is not None:
                return blocked
        if text is not None:
            delta.content = text
        if own.blocked is not None:
            return own
    return None


def _scanner_for(
    scanner: WindowScanner, others: dict[tuple[int, int], WindowScanner], key: tuple[int, int]
) -> WindowScanner:
    if key == (0, -1):
        return scanner
    own = others.get(key)
    if own is None:
        own = others[key] = scanner.fork()
    return own


def _finish_calls(
    delta: Delta, index: int, others: dict[tuple[int, int], WindowScanner]
) -> WindowScanner | None:
    """At a choice's end: what its tool calls' scanners held, as one more delta of each."""
    for (choice, call), own in others.items():
        if choice != index or call < 0:
            continue
        rest = own.finish()
        if own.blocked is not None:
            return own
        if rest:
            tail = ToolCallDelta(index=call, function=FunctionCallDelta(arguments=rest))
            delta.tool_calls = [*(delta.tool_calls or ()), tail]
    return None


def _ending(
    last: ChatChunk | None,
    scanner: WindowScanner,
    restorer: ChunkRestorer | None,
    others: dict[tuple[int, int], WindowScanner],
) -> list[ChatChunk]:
    """The chunks after an upstream that ended without a finish_reason: the stop, or what
    the scanners and the restorer still held."""
    out: list[ChatChunk] = []
    for (index, call), own in [((0, -1), scanner), *others.items()]:
        rest = own.finish()
        if own.blocked is not None:
            return [stop_chunk(last, own)]
        if rest:
            if call < 0:
                delta = Delta(content=rest)
            else:
                arguments = FunctionCallDelta(arguments=rest)
                delta = Delta(tool_calls=[ToolCallDelta(index=call, function=arguments)])
            tail = ChatChunk(
                last.id if last else "chatcmpl-proctor-guard",
                last.created if last else 0,
                last.model if last else "proctor/guard",
                [ChunkChoice(index, delta)],
            )
            if restorer is not None:
                restorer.chunk(tail)
            out.append(tail)
    if restorer is not None and (held := restorer.rest(last)) is not None:
        out.append(held)
    return out


class ChunkRestorer:
    """Puts a request's placeholders back in the chunks of its streamed reply, in text and
    in tool-call arguments, including a placeholder cut between two chunks."""

    __slots__ = ("_calls", "_placeholders", "_texts")

    def __init__(self, placeholders: Placeholders) -> None:
        self._placeholders = placeholders
        self._texts: dict[int, StreamRestorer] = {}
        self._calls: dict[tuple[int, int], StreamRestorer] = {}

    def chunk(self, chunk: ChatChunk) -> None:
        for choice in chunk.choices:
            self._choice(choice)

    def rest(self, last: ChatChunk | None) -> ChatChunk | None:
        """A chunk with what is still held, for a stream that ended without a finish."""
        if not self._texts and not self._calls:
            return None
        choice = ChunkChoice(0, Delta())
        choice.finish_reason = "stop"
        self._flush(choice)
        choice.finish_reason = None
        if not choice.delta.content and not choice.delta.tool_calls:
            return None
        return ChatChunk(
            last.id if last else "chatcmpl-proctor-guard",
            last.created if last else 0,
            last.model if last else "proctor/guard",
            [choice],
        )

    def _choice(self, choice: ChunkChoice) -> None:
        delta, index = choice.delta, choice.index
        placeholders = self._placeholders
        if delta.content:
            restorer = self._texts.get(index)
            if restorer is None:
                restorer = self._texts[index] = placeholders.restorer()
            delta.content = restorer.feed(delta.content)
        if delta.refusal:
            delta.refusal = placeholders.restore(delta.refusal)
        for call in delta.tool_calls or ():
            function = call.function
            if function is not None and function.arguments:
                key = (index, call.index)
                restorer = self._calls.get(key)
                if restorer is None:
                    restorer = self._calls[key] = placeholders.restorer(json_string=True)
                function.arguments = restorer.feed(function.arguments)
        if choice.finish_reason is not None:
            self._flush(choice)

    def _flush(self, choice: ChunkChoice) -> None:
        delta, index = choice.delta, choice.index
        held = self._texts.pop(index, None)
        if held is not None and (rest := held.flush()):
            delta.content = (delta.content or "") + rest
        for key in [k for k in self._calls if k[0] == index]:
            rest = self._calls.pop(key).flush()
            if rest:  # the held end of that call's arguments, as one more delta of it
                tail = ToolCallDelta(index=key[1], function=FunctionCallDelta(arguments=rest))
                delta.tool_calls = [*(delta.tool_calls or ()), tail]


async def restore_stream(
    chunks: AsyncIterator[ChatChunk], placeholders: Placeholders
) -> AsyncIterator[ChatChunk]:
    """`chunks` with this request's placeholders put back (see ChunkRestorer)."""
    restorer = ChunkRestorer(placeholders)
    last: ChatChunk | None = None
    try:
        async for chunk in chunks:
            restorer.chunk(chunk)
            last = chunk
            yield chunk
        if (rest := restorer.rest(last)) is not None:
            yield rest
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
