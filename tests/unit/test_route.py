from __future__ import annotations

import random
from collections import Counter

import pytest

from proctor import config as config_mod
from proctor.errors import NotFound
from proctor.resilience.balance import Balancer
from proctor.stages.route import Route, plans_from

CONFIG = config_mod.from_dict(
    {
        "providers": {"a": {"type": "sim"}, "b": {"type": "sim"}},
        "models": {
            "chat": {
                "deployments": [
                    {"provider": "a", "model": "x", "weight": 3},
                    {"provider": "b", "model": "y", "weight": 1},
                ],
                "fallbacks": ["backup", "last"],
            },
            "backup": {"deployments": [{"provider": "b", "model": "z"}], "fallbacks": ["last"]},
            "last": {"deployments": [{"provider": "a", "model": "w"}]},
        },
    }
)


def _route(seed: int = 1) -> Route:
    return Route(plans_from(CONFIG), frozenset(CONFIG.providers), Balancer(random.Random(seed)))


def test_fallbacks_follow_the_primary_deployments_once_each() -> None:
    names = [s.deployment.name for s in _route().candidates("chat")]
    assert sorted(names[:2]) == ["a/x", "b/y"]
    assert names[2:] == ["b/z", "a/w"]


def test_weights_decide_the_first_choice_in_proportion() -> None:
    route = _route(7)
    firsts = Counter(route.candidates("chat")[0].deployment.name for _ in range(4000))
    share = firsts["a/x"] / 4000
    assert 0.70 < share < 0.80  # weight 3 of 4


def test_provider_prefix_addresses_a_provider_directly() -> None:
    [step] = _route().candidates("b/some-model")
    deployment = step.deployment
    assert (deployment.provider, deployment.model) == ("b", "some-model")


def test_unknown_model_names_the_available_ones() -> None:
    with pytest.raises(NotFound) as caught:
        _route().candidates("gpt-9")
    assert "backup, chat, last" in caught.value.message
    assert caught.value.code == "model_not_found"
