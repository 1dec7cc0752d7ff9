"""The configuration example in the README loads, so the front page stays true."""

from __future__ import annotations

import re
from pathlib import Path

from proctor.config.load import parse
from proctor.guards.policy import GuardPolicy

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_configuration_loads() -> None:
    match = re.search(r"```yaml\n(server:.*?)```", README.read_text(), re.S)
    assert match is not None
    config = parse(match.group(1), env={"OPENAI_API_KEY": "sk-x", "ANTHROPIC_API_KEY": "sk-y"})
    assert set(config.models) >= {"chat", "chat-claude", "embed"}
    plan = GuardPolicy(config.guards).plan_for("payments")
    assert ("injection", "block") in [(c.rule, c.action) for c in plan.checks]
