"""Stage 2, admit: backpressure, rate limits and budget reservations.

Load beyond the in-flight limit is shed at once with a 503 (latency stays bounded for what
is admitted). Then the request takes its rate-limit tokens and reserves its worst-case cost
against every budget that applies; both are settled with the real figures when the request
finishes (a stream: after its last chunk), off the request path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from proctor.context import Context, Reply
from proctor.cost.pricing import Price, worst_case_usd
from proctor.cost.tokenizer import count_tokens, estimate_prompt_tokens
from proctor.errors import NotFound, PermissionDenied, ServiceUnavailable
from proctor.limits.admission import Admission, Held
from proctor.limits.periods import utc_now
from proctor.limits.policy import BoundBudget, BoundLimit, KeyLimits, Policy
from proctor.pipeline import Next
from proctor.resilience.steps import Step
from proctor.stages.route import Route
from proctor.stages.settle import Pricer
from proctor.wire.types import ChatRequest, EmbeddingRequest

EstimateTokens = Callable[[ChatRequest | EmbeddingRequest, str], int]


@dataclass(frozen=True, slots=True)
class ModelCosts:
    """Per public model: the prices of every deployment its chain may use (the reservation
    takes the dearest), the deployments with no price, and the model whose tokenizer
    estimates its prompts."""

    prices: tuple[Price, ...]
    unpriced: tuple[str, ...]
    tokenizer_model: str


class CostBook:
    """ModelCosts for every public model (computed at config load) and, on demand, for a
    `provider/model` addressed directly (cached, bounded: clients choose those names)."""

    MAX_DIRECT = 1024

    def __init__(self, route: Route, pricer: Pricer) -> None:
        self.route = route
        self.pricer = pricer
        self.models = {name: self._costs(steps) for name, steps in route.chains().items()}
        self.direct: dict[str, ModelCosts] = {}

    def _costs(self, steps: Sequence[Step]) -> ModelCosts:
        prices, unpriced = [], []
        for step in steps:
            d = step.deployment
            price = self.pricer.for_deployment(d.provider, d.model)
            if price is None:
                unpriced.append(d.name)
            else:
                prices.append(price)
        return ModelCosts(tuple(prices), tuple(unpriced), steps[0].deployment.model)

    def get(self, model: str) -> ModelCosts | None:
        costs = self.models.get(model) or self.direct.get(model)
        if costs is not None:
            return costs
        try:
            steps = self.route.candidates(model, balanced=False)
        except NotFound:
            return None
        if len(self.direct) >= self.MAX_DIRECT:
            self.direct.clear()
        costs = self.direct[model] = self._costs(steps)
        return costs


class Inflight:
    """Requests in flight, shared by every configuration the gateway runs."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    def release(self) -> None:
        self.count -= 1


class Admit:
    name = "admit"

    def __init__(
        self,
        inflight: Inflight,
        admission: Admission,
        policy: Policy,
        costs: CostBook,
        estimate: EstimateTokens,
        default_max_tokens: int,
        background: set[asyncio.Task[None]],
    ) -> None:
        self.inflight = inflight
        self.admission = admission
        self.policy = policy
        self.costs = costs
        self.estimate = estimate
        self.default_max_tokens = default_max_tokens
        self.background = background

    async def __call__(self, ctx: Context, call_next: Next) -> Reply:
        inflight = self.inflight
        if inflight.count >= inflight.limit:
            raise ServiceUnavailable(
                f"the gateway is at its limit of {inflight.limit} requests in flight",
                code="overloaded",
                headers={"retry-after": "1"},
            )
        inflight.count += 1
        ctx.on_finish.append(inflight.release)
        key: KeyLimits | None = ctx.notes.get("key")
        if self.policy.empty and key is None:
            return await call_next(ctx)
        budgets = self.policy.budgets_for(ctx, key, utc_now())
        limits = self.policy.limits_for(ctx, key)
        if budgets or limits:
            held = await self._admit(ctx, budgets, limits)
            ctx.on_finish.append(lambda: self._settle_later(ctx, held))
        return await call_next(ctx)

    async def _admit(
        self, ctx: Context, budgets: list[BoundBudget], limits: list[BoundLimit]
    ) -> Held:
        request = ctx.request
        costs = self.costs.get(request.model)
        if budgets and (costs is None or costs.unpriced):
            # A budget cannot bound what it cannot price: refuse rather than overspend.
            missing = ", ".join(costs.unpriced) if costs else request.model
            raise PermissionDenied(
                f"budgets apply to this request but {missing} has no price; add it under "
                "`pricing:` in the config",
                code="unpriced_model",
            )
        prompt = self.estimate(request, costs.tokenizer_model if costs else request.model)
        ctx.notes["prompt_tokens_estimate"] = prompt
        output = request.output_limit if isinstance(request, ChatRequest) else 0
        tokens = prompt + (output or 0)
        worst = None
        if costs is not None and costs.prices:
            max_output = output if output is not None else self.default_max_tokens
            worst = max(worst_case_usd(p, prompt, max_output) for p in costs.prices)
        return await self.admission.admit(budgets, limits, tokens, worst, ctx.response_headers)

    def _settle_later(self, ctx: Context, held: Held) -> None:
        usage = ctx.usage
        tokens = usage.total_tokens if usage is not None else None
        self.admission.settle_later(held, ctx.cost_usd, tokens, self.background)


def estimate_tokens(request: ChatRequest | EmbeddingRequest, model: str) -> int:
    """Prompt tokens as the model's tokenizer counts them (embeddings: every input)."""
    if isinstance(request, ChatRequest):
        return estimate_prompt_tokens(request, model)
    return sum(
        count_tokens(item, model) if isinstance(item, str) else len(item) for item in request.inputs
    )
