"""`proctor alerts test` against a loopback receiver, and `proctor alerts list`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proctor.cli.main import app
from tests.alerts.receiver import Answer, Receiver

CONFIG = """
providers: {sim: {type: sim}}
models: {chat: {deployments: [{provider: sim, model: a}]}}
alerts:
  sinks:
    - {type: webhook, url: "%(url)s/hook", headers: {X-Token: t0k}}
    - {type: slack, name: team, url: "%(url)s/services/T0/B0/secret"}
    - {type: log}
  rules:
    - {name: errors, metric: error_rate, window: 5m, above: 0.05, min_requests: 20}
    - {name: slow, metric: latency_p95_ms, window: 5m, above: 4000, by: model, sinks: [team]}
    - {name: budget, event: budget_threshold, severity: critical}
  cooldown: 15m
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def _write(tmp_path: Path, receiver: Receiver) -> Path:
    path = tmp_path / "proctor.yaml"
    path.write_text(CONFIG % {"url": receiver.url})
    return path


def test_sample_alert_through_every_sink(tmp_path: Path, receiver: Receiver) -> None:
    result = CliRunner().invoke(
        app, ["alerts", "test", "--config", str(_write(tmp_path, receiver)), "--json"]
    )
    assert result.exit_code == 0, result.output
    answers = {d["sink"]: d for d in json.loads(result.stdout)}
    assert set(answers) == {"webhook", "team", "log"}
    assert all(d["ok"] and d["attempts"] == 1 for d in answers.values())
    assert answers["webhook"]["status"] == 200
    assert answers["webhook"]["answer"] == "ok"
    got = {r.path: r for r in receiver.wait_for(2)}
    hook = got["/hook"]
    assert hook.headers["x-token"] == "t0k"
    assert hook.body["test"] is True
    assert hook.body["summary"].startswith("[test]")
    assert set(got["/services/T0/B0/secret"].body) == {"text", "blocks"}


def test_sample_shaped_like_a_rule_goes_to_its_sinks(tmp_path: Path, receiver: Receiver) -> None:
    result = CliRunner().invoke(
        app,
        ["alerts", "test", "-c", str(_write(tmp_path, receiver)), "--rule", "slow", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert [d["sink"] for d in json.loads(result.stdout)] == ["team"]
    [got] = receiver.wait_for(1)
    assert "slow" in got.body["text"]
    assert "(test)" in got.body["blocks"][0]["text"]["text"]


def test_a_failing_sink_is_reported_and_exits_1(tmp_path: Path, receiver: Receiver) -> None:
    receiver.answer_next(Answer(500, "upstream on fire"), count=5, path="/hook")
    path = tmp_path / "p.yaml"
    path.write_text(
        f"alerts: {{sinks: [{{type: webhook, url: '{receiver.url}/hook', backoff_s: 0.01}}]}}"
    )
    result = CliRunner().invoke(app, ["alerts", "test", "--config", str(path)])
    assert result.exit_code == 1
    assert "HTTP 500" in result.stdout
    assert "upstream on fire" in result.stdout
    assert len(receiver.received) == 2  # one retry


def test_unknown_rule_is_a_usage_error(tmp_path: Path, receiver: Receiver) -> None:
    result = CliRunner().invoke(
        app, ["alerts", "test", "-c", str(_write(tmp_path, receiver)), "--rule", "nope"]
    )
    assert result.exit_code == 2
    assert "nope" in result.output
    assert receiver.received == []


def test_list_prints_rules_and_sinks_without_secrets(tmp_path: Path, receiver: Receiver) -> None:
    path = _write(tmp_path, receiver)
    result = CliRunner().invoke(app, ["alerts", "list", "--config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    rows = {r["name"]: r for r in listed["rules"]}
    assert rows["errors"]["condition"] == "above 5%"
    assert rows["errors"]["window"] == "5m"
    assert rows["errors"]["cooldown"] == "15m"
    assert rows["slow"]["scope"] == "each model"
    assert rows["slow"]["sinks"] == ["team"]
    assert rows["budget"]["kind"] == "event"
    assert "secret" not in result.stdout
    table = CliRunner().invoke(app, ["alerts", "list", "--config", str(path)])
    assert table.exit_code == 0
    for text in ("errors", "error_rate", "above 5%", "budget_threshold", "team"):
        assert text in table.stdout
    assert "secret" not in table.stdout


def test_a_bad_alerts_section_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("alerts: {rules: [{name: x, metric: error_rate, above: 1, window: soon}]}")
    result = CliRunner().invoke(app, ["alerts", "list", "--config", str(path)])
    assert result.exit_code == 2
    assert "$.alerts.rules[0].window" in result.output
