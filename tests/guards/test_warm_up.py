"""The guard policy loads what its detectors need at start-up, not on the first request."""

from __future__ import annotations

from proctor import config as config_mod
from proctor.guards import language
from proctor.guards.base import Detection
from proctor.guards.pii import gazetteer
from proctor.guards.policy import Check, GuardPolicy


def test_warm_up_loads_word_lists_and_models_once() -> None:
    gazetteer.default.cache_clear()
    language._identifier.cache_clear()
    section = {"language": {"allowed": ["en"], "action": "flag"}}
    policy = GuardPolicy(config_mod.from_dict({"guards": section}).guards)
    assert gazetteer.default.cache_info().currsize == 0
    policy.warm_up()
    assert gazetteer.default.cache_info().currsize == 1
    assert language._identifier.cache_info().currsize == 1


def test_warm_up_survives_a_broken_detector() -> None:
    calls: list[str] = []

    def broken(text: str) -> list[Detection]:
        calls.append(text)
        raise RuntimeError("model file missing")

    policy = GuardPolicy(config_mod.from_dict({}).guards)
    check = Check("secrets", "block", broken, frozenset({"user"}))
    policy.base = policy.base.__class__(checks=(check,))
    policy.warm_up()  # does not raise: a request meeting it is where the failure counts
    assert len(calls) == 1
