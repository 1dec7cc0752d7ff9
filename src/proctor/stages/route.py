"""Stage 5, route: public model name -> the ordered deployments to try.

Deployments of the requested model come first, ordered by weighted random choice; then the
deployments of each fallback model, in the configured order. `provider/model` addresses a
configured provider directly when no public model has that name.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from proctor.config import Config
from proctor.context import Context, Reply
from proctor.errors import NotFound
from proctor.pipeline import Next
from proctor.providers.base import Deployment


@dataclass(frozen=True, slots=True)
class ModelPlan:
    name: str
    deployments: tuple[Deployment, ...]
    fallbacks: tuple[str, ...]


def plans_from(config: Config) -> dict[str, ModelPlan]:
    return {
        name: ModelPlan(
            name=name,
            deployments=tuple(
                Deployment(name, d.provider, d.model, d.weight) for d in model.deployments
            ),
            fallbacks=tuple(model.fallbacks),
        )
        for name, model in config.models.items()
    }


def weighted_order(deployments: Sequence[Deployment], rng: random.Random) -> list[Deployment]:
    """Weighted sampling without replacement (Efraimidis-Spirakis keys)."""
    if len(deployments) == 1:
        return [deployments[0]]
    keyed = [(rng.random() ** (1.0 / d.weight), d) for d in deployments]
    keyed.sort(key=lambda pair: pair[0], reverse=True)
    return [d for _, d in keyed]


class Route:
    name = "route"

    def __init__(
        self, plans: Mapping[str, ModelPlan], providers: frozenset[str], rng: random.Random
    ) -> None:
        self.plans = plans
        self.providers = providers
        self.rng = rng

    def candidates(self, model: str) -> list[Deployment]:
        plan = self.plans.get(model)
        if plan is None:
            provider, slash, provider_model = model.partition("/")
            if slash and provider in self.providers and provider_model:
                return [Deployment(model, provider, provider_model)]
            available = ", ".join(sorted(self.plans)) or "none"
            raise NotFound(
                f"the model '{model}' does not exist on this gateway (available: {available})",
                code="model_not_found",
                param="model",
            )
        ordered: list[Deployment] = []
        seen = {model}
        queue = [plan]
        while queue:
            current = queue.pop(0)
            ordered.extend(weighted_order(current.deployments, self.rng))
            for fallback in current.fallbacks:
                if fallback not in seen:
                    seen.add(fallback)
                    queue.append(self.plans[fallback])
        return ordered

    async def __call__(self, ctx: Context, call_next: Next) -> Reply:
        ctx.public_model = ctx.request.model
        ctx.notes["candidates"] = self.candidates(ctx.request.model)
        return await call_next(ctx)
