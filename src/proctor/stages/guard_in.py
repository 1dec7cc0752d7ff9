"""Stage 3, guard_in: the input guards, and what the reply needs from them on the way back.

Before the call: the anomaly breaker's safe mode for this feature and model (strict plan,
fallback model or a static answer), the size limits, then the plan's checks in order
(strip invisible characters, banned terms, language, secrets, injection, PII...). A block
is a 400 in the API's error shape, or a refusal answer when `block_response: refusal`; a
rule marked for review holds the request for a human. Redacted values leave as
placeholders; flag-only rules in `parallel` mode run while the provider works.

After the call: the placeholders are restored in the reply (streamed or not), the
`x-proctor-guard` header summarises the findings (for a stream, those known when its headers
leave: the input side), and when the request is over its outcome goes to the breaker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import msgspec

from proctor.context import ChatStream, Context, Finding, Reply
from proctor.errors import BadRequest
from proctor.guards.anomaly import AnomalyBreaker, SafeMode
from proctor.guards.inputs import (
    Failures,
    InputScan,
    Segment,
    note_failures,
    rebuild,
    run_checks,
    segments,
)
from proctor.guards.placeholders import Placeholders
from proctor.guards.policy import Check, GuardPlan, GuardPolicy
from proctor.guards.replies import HEADER, GuardBlocked, answer, describe, outcomes, summary
from proctor.guards.review.queue import ReviewQueue
from proctor.guards.stream import restore_stream
from proctor.pipeline import Next
from proctor.wire.types import ChatRequest, ChatResponse

log = logging.getLogger("proctor.guards")
PLAN_NOTE = "guard_plan"  # ctx.notes key: the plan guard_out follows for this request
# ctx.notes keys: this request's placeholders, and whether guard_out restores them in the
# stream it already wraps (one generator layer less per chunk).
PLACEHOLDERS_NOTE = "guard_placeholders"
RESTORED_NOTE = "guard_restored"
_MAX_TURNS = 32  # loop turns waited at most for a parallel call's first attempt


class GuardIn:
    name = "guard_in"

    def __init__(
        self,
        policy: GuardPolicy,
        review: ReviewQueue | None = None,
        anomaly: AnomalyBreaker | None = None,
    ) -> None:
        self.policy = policy
        self.review = review
        self.anomaly = anomaly if anomaly is not None and anomaly.config.enabled else None
        self.log_redaction = policy.config.log_redaction
        self.failures = Failures()  # detectors that raised: the request went on without them

    async def __call__(self, ctx: Context, call_next: Next) -> Reply:
        request = ctx.request
        if not isinstance(request, ChatRequest):
            return await call_next(ctx)
        feature, model = ctx.tags.feature, request.model
        safe = self.anomaly.mode(feature, model) if self.anomaly is not None else None
        if self.anomaly is not None:
            ctx.on_finish.append(lambda: self._record(ctx, feature, model))
        plan = self.policy.plan_for(feature, strict=safe is not None and safe.kind == "strict")
        ctx.notes[PLAN_NOTE] = plan
        if safe is not None and safe.kind != "strict":
            static = self._safe_mode(ctx, request, safe)
            if static is not None:
                return static
            request = ctx.request
            assert isinstance(request, ChatRequest)
        _check_limits(plan, request)
        # The review of a high-risk feature shows the text even when no rule reads it.
        parts = segments(request) if plan.checks or plan.parallel or plan.review_all else []
        scan = InputScan()
        scan.placeholders.reserve(p.text for p in parts)
        try:
            await _run_checks(plan.checks, parts, scan)
        finally:  # a fail-closed rule's failure is counted too
            self._note(ctx, scan)
        if scan.blocked is not None:
            return self._block(ctx, request, plan, describe(scan.blocked))
        if scan.review or plan.review_all:
            rejected = await self._hold(ctx, scan, parts)
            if rejected is not None:
                return self._block(ctx, request, plan, rejected)
        if scan.changed:
            ctx.request = rebuild(request, parts)
        if scan.placeholders:
            ctx.notes[PLACEHOLDERS_NOTE] = scan.placeholders
        try:
            if plan.parallel:
                reply = await self._call_with_parallel(ctx, call_next, plan, parts)
            else:
                reply = await call_next(ctx)
        finally:
            if not self.log_redaction:
                ctx.request = request  # logs and traces see the original (pattern-redacted)
            # A reply an output rule blocked (or a failed call) is an error raised through
            # here, and its error response carries the header too.
            _header(ctx)
        return self._after(ctx, reply, scan.placeholders)

    def _after(self, ctx: Context, reply: Reply, placeholders: Placeholders) -> Reply:
        if placeholders:
            if isinstance(reply, ChatStream):
                if not ctx.notes.get(RESTORED_NOTE):
                    reply = ChatStream(restore_stream(reply.chunks, placeholders))
            elif isinstance(reply, ChatResponse):
                restore_response(reply, placeholders)
        _header(ctx)
        return reply

    def _note(self, ctx: Context, scan: InputScan) -> None:
        ctx.findings.extend(scan.findings)
        if scan.errors:
            self.failures.add(scan.errors)
            note_failures(ctx.findings, self.name, scan.errors)

    def _block(self, ctx: Context, request: ChatRequest, plan: GuardPlan, why: str) -> Reply:
        _header(ctx)
        if plan.refusal is not None:
            return answer(request, request.model, plan.refusal, "content_filter")
        raise GuardBlocked(why)

    def _safe_mode(self, ctx: Context, request: ChatRequest, safe: SafeMode) -> Reply | None:
        """A static answer, or None after switching the request to the fallback model."""
        detail = f"guard breaker open for {safe.feature}/{safe.model}"
        ctx.findings.append(Finding("guard_in", "anomaly", safe.kind, detail=detail))
        _header(ctx)
        if safe.kind == "static":
            return answer(request, request.model, safe.static_answer, "stop")
        if safe.fallback_model is not None:
            ctx.request = msgspec.structs.replace(request, model=safe.fallback_model)
        return None

    async def _hold(self, ctx: Context, scan: InputScan, parts: Sequence[Segment]) -> str | None:
        """Hold the request for review; the block message if a human (or the default
        decision) rejected it, None when approved."""
        review = self.review
        rules = scan.review or ["feature"]
        if review is None:
            return "held for review, but no review queue is configured"
        text = "\n\n".join(p.text for p in parts if p.source in ("user", "tool", "documents"))
        item = review.new_item(ctx, stage="input", text=text, rules=rules, hidden=scan.hidden)
        decision = await review.hold(item)
        action = "approve" if decision.approved else "reject"
        detail = f"review {decision.review_id} decided by {decision.decided_by}"
        ctx.findings.append(Finding("guard_in", "review", action, detail=detail))
        if decision.approved:
            return None
        return f"blocked by human review ({', '.join(rules)}): rejected by {decision.decided_by}"

    async def _call_with_parallel(
        self, ctx: Context, call_next: Next, plan: GuardPlan, parts: list[Segment]
    ) -> Reply:
        """Start the call, let it reach the network, then run the flag-only checks while
        the provider works; their findings are recorded before the reply goes on."""
        started = len(ctx.attempts)
        task = asyncio.ensure_future(call_next(ctx))
        try:
            # Let the call run until its first attempt has begun (routing and the executor
            # take a few turns of the loop), then two more turns to get the request written;
            # from then on the provider works while the checks run.
            for _ in range(_MAX_TURNS):
                await asyncio.sleep(0)
                if task.done() or len(ctx.attempts) > started:
                    break
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            scan = InputScan()
            try:
                await _run_checks(plan.parallel, parts, scan)
            finally:
                self._note(ctx, scan)
            return await task
        except BaseException:
            task.cancel()
            raise

    def _record(self, ctx: Context, feature: str | None, model: str) -> None:
        # Once per request, when it is over (a stream's output findings included). While
        # the scope's breaker is open the breaker ignores it: safe answers are no evidence.
        if self.anomaly is None:
            return
        found = outcomes(ctx.findings)
        self.anomaly.record(feature, model, *(found or ("ok",)))


# From this many characters of text a request's checks run in a worker thread. The detectors
# are Python and hold the GIL, so a thread does not make them faster; but the interpreter
# switches threads every few milliseconds, so the event loop keeps serving the other requests
# while a huge prompt (the body limit allows megabytes: seconds of scanning) is read, instead
# of stalling all of them behind it.
LARGE_INPUT_CHARS = 32_000


async def _run_checks(checks: Sequence[Check], parts: list[Segment], scan: InputScan) -> None:
    if not checks:
        return
    if sum(len(p.text) for p in parts) >= LARGE_INPUT_CHARS:
        await asyncio.to_thread(run_checks, checks, parts, scan)
    else:
        run_checks(checks, parts, scan)


def _check_limits(plan: GuardPlan, request: ChatRequest) -> None:
    limits = plan.limits
    if limits is None:
        return
    total = 0
    for i, message in enumerate(request.messages):
        content = message.content
        size = (
            len(content)
            if isinstance(content, str)
            else sum(len(str(p.get("text", ""))) for p in content or ())
        )
        # Tool call arguments are text the guards read too.
        size += sum(len(call.function.arguments) for call in message.tool_calls or ())
        if limits.max_message_chars is not None and size > limits.max_message_chars:
            raise BadRequest(
                f"message {i} has {size} characters; the limit is {limits.max_message_chars} "
                "(guards.input.max_message_chars)",
                code="input_too_long",
                param=f"messages[{i}]",
            )
        total += size
    if limits.max_chars is not None and total > limits.max_chars:
        raise BadRequest(
            f"the messages have {total} characters; the limit is {limits.max_chars} "
            "(guards.input.max_chars)",
            code="input_too_long",
            param="messages",
        )


def restore_response(reply: ChatResponse, placeholders: Placeholders) -> None:
    """Put this request's values back where the provider wrote their placeholders."""
    for choice in reply.choices:
        message = choice.message
        if message.content:
            message.content = placeholders.restore(message.content)
        if message.refusal:
            message.refusal = placeholders.restore(message.refusal)
        for call in message.tool_calls or ():
            arguments = call.function.arguments
            call.function.arguments = placeholders.restore(arguments, json_string=True)


def _header(ctx: Context) -> None:
    value = summary(ctx.findings)
    if value is not None:
        ctx.response_headers[HEADER] = value
