"""The unit the executor works on: one deployment, and the config of its public model."""

from __future__ import annotations

from dataclasses import dataclass

from proctor.config import ModelConfig
from proctor.providers.base import Deployment


@dataclass(frozen=True, slots=True)
class Step:
    deployment: Deployment
    model: ModelConfig


class Skipped(Exception):
    """A step that was not tried (breaker open, prompt too long); not a provider failure.

    When the reason is something the caller should hear if nothing else works (the prompt
    is too long), that error is chained as `__cause__`.
    """
