"""Stage 5, route: public model name -> the ordered steps (deployments) to try.

The requested model's deployments come first, ordered by its balancing strategy; then the
deployments of each fallback model, in the configured order (breadth first, each model
once). `provider/model` addresses a configured provider directly when no public model has
that name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from proctor.config import Config, ModelConfig
from proctor.context import Context, Reply
from proctor.errors import NotFound
from proctor.pipeline import Next
from proctor.providers.base import Deployment
from proctor.resilience.balance import Balancer
from proctor.resilience.steps import Step

_DIRECT = ModelConfig(deployments=[])


@dataclass(frozen=True, slots=True)
class ModelPlan:
    name: str
    config: ModelConfig
    deployments: tuple[Deployment, ...]


def plans_from(config: Config) -> dict[str, ModelPlan]:
    return {
        name: ModelPlan(
            name=name,
            config=model,
            deployments=tuple(
                Deployment(
                    name,
                    d.provider,
                    d.model,
                    d.weight,
                    context_window=d.context_window,
                    timeouts=d.timeouts,
                    pinned=d.pinned,
                    probe_every_s=d.probe.every_s if d.probe else None,
                )
                for d in model.deployments
            ),
        )
        for name, model in config.models.items()
    }


class Route:
    name = "route"

    def __init__(
        self, plans: Mapping[str, ModelPlan], providers: frozenset[str], balancer: Balancer
    ) -> None:
        self.plans = plans
        self.providers = providers
        self.balancer = balancer

    def chains(self) -> dict[str, list[Step]]:
        """Every model's whole chain in declared order (no balancing), for drills."""
        return {name: self.candidates(name, balanced=False) for name in self.plans}

    def candidates(self, model: str, *, balanced: bool = True) -> list[Step]:
        plan = self.plans.get(model)
        if plan is None:
            provider, slash, provider_model = model.partition("/")
            if slash and provider in self.providers and provider_model:
                return [Step(Deployment(model, provider, provider_model), _DIRECT)]
            available = ", ".join(sorted(self.plans)) or "none"
            raise NotFound(
                f"the model '{model}' does not exist on this gateway (available: {available})",
                code="model_not_found",
                param="model",
            )
        steps: list[Step] = []
        seen = {model}
        queue = [plan]
        while queue:
            current = queue.pop(0)
            ordered = (
                self.balancer.order(current.deployments, current.config.strategy)
                if balanced
                else current.deployments
            )
            steps.extend(Step(d, current.config) for d in ordered)
            for fallback in current.config.fallbacks:
                if fallback not in seen:
                    seen.add(fallback)
                    queue.append(self.plans[fallback])
        return steps

    async def __call__(self, ctx: Context, call_next: Next) -> Reply:
        ctx.public_model = ctx.request.model
        ctx.notes["candidates"] = self.candidates(ctx.request.model)
        return await call_next(ctx)
