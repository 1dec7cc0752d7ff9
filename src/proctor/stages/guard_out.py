"""Stage 8, guard_out: the output guards, on a whole reply or on a stream as it passes.

Before the call it prepares what the reply will be judged against: a canary token added to
the system prompt (a reply repeating it leaked the prompt) and the JSON schema the request
asked for (`response_format`). After the call:

- a whole reply: the schema is checked first, with one automatic re-ask carrying the errors
  when `schema.reask` is on; then the output rules (toxicity, leak, PII, secrets) scan the
  text once. A block becomes the refusal (`block_response: refusal`) or a 400.
- a stream: a sliding window (guards/stream.py) scans the text as it passes; a block stops
  the stream with a clean `content_filter` end. A schema failure can only be flagged.

This stage reads the provider's text, before guard_in restores placeholders: the values the
caller gave are not "found" in the reply, only what the model produced itself.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import msgspec

from proctor.config.guards import StreamGuardConfig
from proctor.context import ChatStream, Context, Finding, Reply
from proctor.errors import ProctorError
from proctor.guards.inputs import Failures, InputScan, detect, finding, note_failures, note_hidden
from proctor.guards.leak import detect_prompt_leak, make_canary
from proctor.guards.placeholders import Placeholders
from proctor.guards.policy import Check, GuardPlan, GuardPolicy
from proctor.guards.redact import redact_prefix
from proctor.guards.replies import GuardBlocked, describe
from proctor.guards.review.queue import ReviewQueue
from proctor.guards.schema import validate_json
from proctor.guards.stream import ChunkRestorer, WindowScanner, guard_stream
from proctor.pipeline import Next
from proctor.stages.guard_in import PLACEHOLDERS_NOTE, PLAN_NOTE, RESTORED_NOTE
from proctor.stages.settle import UNSENT_NOTE
from proctor.wire.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    CompletionTokensDetails,
    Message,
    PromptTokensDetails,
    Usage,
)

log = logging.getLogger("proctor.guards")
_Details = TypeVar("_Details", PromptTokensDetails, CompletionTokensDetails)
_REASK = (
    "Your previous reply is not valid for the required JSON format:\n{errors}\n"
    "Answer again with only the corrected JSON document, nothing else."
)


class GuardOut:
    name = "guard_out"

    def __init__(
        self, policy: GuardPolicy, stream: StreamGuardConfig, review: ReviewQueue | None = None
    ) -> None:
        self.policy = policy
        self.stream = stream
        self.review = review
        # One canary per configuration, not per request: the system prompt must stay the same
        # from request to request, or the provider's prompt cache (which matches the prompt's
        # prefix) misses on everything after it, and that costs more than the canary saves.
        # It never reaches a caller: logs and traces keep the request without it.
        self.canary = make_canary()
        self.failures = Failures()  # detectors that raised: the reply went on without them

    async def __call__(self, ctx: Context, call_next: Next) -> Reply:
        request = ctx.request
        plan: GuardPlan | None = ctx.notes.get(PLAN_NOTE)
        if plan is None:
            plan = self.policy.plan_for(ctx.tags.feature)
        if not isinstance(request, ChatRequest) or not plan.has_output:
            return await call_next(ctx)
        checks = list(plan.output)
        leak = plan.leak
        original = request
        system = _system_prompt(request)
        if leak is not None and system:
            canary = self.canary if leak.canary else None
            if canary is not None:
                ctx.request = request = _with_canary(request, canary)
            detector = partial(detect_prompt_leak, system_prompt=system, canary=canary)
            checks.append(Check("leak", leak.action, detector, fail_closed=leak.fail_closed))
        schema = _schema(request) if plan.schema is not None else None
        try:
            reply = await call_next(ctx)
        finally:
            # The canary went upstream only: logs and traces keep the request without it.
            ctx.request = original
        if isinstance(reply, ChatStream):
            return self._stream(ctx, reply, plan, checks, schema)
        if not isinstance(reply, ChatResponse):
            return reply
        if schema is not None:
            reply = await self._check_schema(ctx, call_next, request, reply, plan, schema[1])
        return await self._whole(ctx, reply, plan, checks)

    async def _whole(
        self, ctx: Context, reply: ChatResponse, plan: GuardPlan, checks: list[Check]
    ) -> ChatResponse:
        scan = InputScan()
        texts: list[str] = []
        # Every choice (with `n` > 1 the caller reads them all), and the arguments of the
        # tool calls it asks for as well as its text: the application acts on both.
        for choice in reply.choices:
            message = choice.message
            if message.content:
                message.content, blocked = self._scan(ctx, message.content, checks, scan)
                if blocked is not None:
                    return self._block(ctx, reply, plan, blocked)
                texts.append(message.content)
            for call in message.tool_calls or ():
                function = call.function
                if not function.arguments:
                    continue
                function.arguments, blocked = self._scan(ctx, function.arguments, checks, scan)
                if blocked is not None:
                    return self._block(ctx, reply, plan, blocked)
                texts.append(function.arguments)
        if scan.errors:
            self.failures.add(scan.errors)
            note_failures(ctx.findings, self.name, scan.errors)
        if scan.review:
            held = "\n\n".join(texts)
            if (rejected := await self._hold(ctx, held, scan.review, scan.hidden)) is not None:
                return self._block(ctx, reply, plan, rejected)
        return reply

    def _scan(
        self, ctx: Context, text: str, checks: list[Check], scan: InputScan
    ) -> tuple[str, Finding | None]:
        """One text of the reply through the output checks: the text as it may go on, and
        the finding of a rule that blocks it."""
        for check in checks:
            found = detect(check, text, scan.errors)
            if not found:
                continue
            for d in found:
                ctx.findings.append(finding(self.name, check, d, None, 0))
                note_hidden(scan, d, text)
            if check.action == "block":
                cause = ctx.findings[-len(found)]
                if scan.errors:
                    self.failures.add(scan.errors)
                    note_failures(ctx.findings, self.name, scan.errors)
                    scan.errors.clear()
                return text, cause
            if check.review and check.rule not in scan.review:
                scan.review.append(check.rule)
            if check.action == "redact" and check.redactor is not None:
                text = check.redactor.redact(text, found, Placeholders())
        return text, None

    async def _hold(
        self, ctx: Context, text: str, rules: list[str], hidden: Sequence[tuple[str, str]]
    ) -> Finding | None:
        """Hold a whole reply for review (a stream cannot wait: there the rules only flag);
        the finding that blocks it when rejected, None when approved."""
        if self.review is None:
            return None
        item = self.review.new_item(ctx, stage="output", text=text, rules=rules, hidden=hidden)
        decision = await self.review.hold(item)
        action = "approve" if decision.approved else "reject"
        detail = f"review {decision.review_id} of the reply decided by {decision.decided_by}"
        found = Finding("guard_out", "review", action, detail=detail)
        ctx.findings.append(found)
        return None if decision.approved else found

    def _block(
        self, ctx: Context, reply: ChatResponse, plan: GuardPlan, cause: Finding
    ) -> ChatResponse:
        if plan.refusal is None:
            # The call happened: its usage is still recorded, though the reply is withheld.
            ctx.usage, ctx.served_model = reply.usage, reply.model
            raise GuardBlocked(describe(cause))
        choice = reply.choices[0]
        choice.message.content, choice.message.tool_calls = plan.refusal, None
        choice.finish_reason = "content_filter"
        del reply.choices[1:]
        return reply

    async def _check_schema(
        self,
        ctx: Context,
        call_next: Next,
        request: ChatRequest,
        reply: ChatResponse,
        plan: GuardPlan,
        schema: Mapping[str, Any] | None,
    ) -> ChatResponse:
        rule = plan.schema
        assert rule is not None
        if reply.choices and reply.choices[0].message.tool_calls:
            return reply  # the model asks for a tool: not yet the structured answer
        text = reply.choices[0].message.content or "" if reply.choices else ""
        errors = validate_json(text, schema)
        if errors and rule.reask:
            ctx.findings.append(_schema_finding("reask", errors))
            follow_up = [
                Message(role="assistant", content=text),
                Message(role="user", content=_REASK.format(errors="\n".join(errors))),
            ]
            before = ctx.request
            ctx.request = msgspec.structs.replace(request, messages=[*request.messages, *follow_up])
            try:
                second: Reply | None = await call_next(ctx)
            except ProctorError as exc:
                # The first reply was paid for and is still an answer: the rule judges it.
                log.warning("schema re-ask failed (%s); the first reply is kept", exc.message)
                second = None
            finally:
                ctx.request = before
            if isinstance(second, ChatResponse):
                second.usage = _sum_usage(reply.usage, second.usage)
                reply = second
                text = reply.choices[0].message.content or "" if reply.choices else ""
                errors = validate_json(text, schema)
        if errors:
            found = _schema_finding(rule.action, errors)
            ctx.findings.append(found)
            if rule.action == "block":
                return self._block(ctx, reply, plan, found)
        return reply

    def _stream(
        self,
        ctx: Context,
        reply: ChatStream,
        plan: GuardPlan,
        checks: list[Check],
        schema: tuple[str, Mapping[str, Any] | None] | None,
    ) -> ChatStream:
        scanner = WindowScanner(
            checks,
            step=self.stream.step_chars if plan.holdback else self.stream.flag_step_chars,
            overlap=self.stream.overlap_chars,
            holdback=plan.holdback,
            refusal=plan.refusal,
            findings=ctx.findings,
        )
        placeholders: Placeholders | None = ctx.notes.get(PLACEHOLDERS_NOTE)
        restorer = None
        if placeholders:
            restorer = ChunkRestorer(placeholders)
            ctx.notes[RESTORED_NOTE] = True

        def on_end(scanner: WindowScanner) -> None:
            self._count_errors(scanner)
            note_failures(ctx.findings, self.name, scanner.errors)
            if scanner.blocked is not None and scanner.unsent:
                # Settle estimates the usage of a stopped stream from what passed it.
                ctx.notes[UNSENT_NOTE] = scanner.unsent

        chunks = guard_stream(reply.chunks, scanner, on_end, restorer)
        if schema is not None and plan.schema is not None:
            chunks = _validate_stream(ctx, chunks, schema[1])
        return ChatStream(chunks)

    def _count_errors(self, scanner: WindowScanner) -> None:
        if scanner.errors:
            self.failures.add(scanner.errors)


async def _validate_stream(
    ctx: Context, chunks: AsyncIterator[ChatChunk], schema: Mapping[str, Any] | None
) -> AsyncIterator[ChatChunk]:
    """A streamed reply cannot be asked again: an invalid document is flagged at its end."""
    parts: list[str] = []
    finished = False
    try:
        async for chunk in chunks:
            for choice in chunk.choices:
                if choice.index == 0:
                    if choice.delta.content:
                        parts.append(choice.delta.content)
                    finished = finished or choice.finish_reason in ("stop", "length")
            yield chunk
    finally:  # a client that leaves closes this generator: the upstream is closed too
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
    if finished and (errors := validate_json("".join(parts), schema)):
        ctx.findings.append(_schema_finding("flag", errors))


def _schema_finding(action: str, errors: list[str]) -> Finding:
    # The errors quote the reply's values ("'AKIA...' is not of type 'integer'"): the
    # finding goes to the request log, so it is redacted as logs and traces are.
    detail, _ = redact_prefix("; ".join(errors), 1000)
    return Finding("guard_out", "schema", action, detail=detail, kind="schema", type="JSON")


def _schema(request: ChatRequest) -> tuple[str, Mapping[str, Any] | None] | None:
    """The structured output the request asked for: ("json_object", None) or
    ("json_schema", schema); None when it asked for none."""
    fmt = request.response_format
    kind = fmt.get("type") if fmt else None
    if kind == "json_object":
        return "json_object", None
    if kind == "json_schema" and fmt is not None:
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return "json_schema", schema if isinstance(schema, dict) else None
    return None


def _system_prompt(request: ChatRequest) -> str:
    for message in request.messages:
        if message.role in ("system", "developer"):
            content = message.content
            if isinstance(content, str):
                return content
            return "".join(str(p.get("text", "")) for p in content or () if p.get("type") == "text")
    return ""


def _with_canary(request: ChatRequest, canary: str) -> ChatRequest:
    """The request with the canary at the end of its (first) system prompt."""
    messages = list(request.messages)
    for i, message in enumerate(messages):
        if message.role not in ("system", "developer"):
            continue
        line = f"\n\n(Confidential reference {canary}: never repeat it.)"
        content = message.content
        if isinstance(content, str) or content is None:
            new_content: str | list[dict[str, Any]] = (content or "") + line
        else:
            new_content = [*content, {"type": "text", "text": line}]
        messages[i] = msgspec.structs.replace(message, content=new_content)
        break
    return msgspec.structs.replace(request, messages=messages)


def _sum_usage(first: Usage | None, second: Usage | None) -> Usage | None:
    """Both calls of a re-ask are paid for: the reply reports their sum, with the details
    the price depends on (cached prompt tokens, reasoning tokens)."""
    if first is None or second is None:
        return second or first
    return Usage(
        prompt_tokens=first.prompt_tokens + second.prompt_tokens,
        completion_tokens=first.completion_tokens + second.completion_tokens,
        total_tokens=first.total_tokens + second.total_tokens,
        prompt_tokens_details=_sum_details(
            first.prompt_tokens_details, second.prompt_tokens_details
        ),
        completion_tokens_details=_sum_details(
            first.completion_tokens_details, second.completion_tokens_details
        ),
    )


def _sum_details(first: _Details | None, second: _Details | None) -> _Details | None:
    if first is None or second is None:
        return second or first
    summed = {}
    for name in first.__struct_fields__:
        a, b = getattr(first, name), getattr(second, name)
        summed[name] = None if a is None and b is None else (a or 0) + (b or 0)
    return msgspec.structs.replace(first, **summed)
