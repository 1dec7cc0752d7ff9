from __future__ import annotations

import asyncio
import json
from pathlib import Path

import msgspec
from typer.testing import CliRunner

from proctor import config as config_mod
from proctor.app import Gateway
from proctor.cli.main import app
from proctor.testing.upstream import closed_port_url

CONFIG = """
providers:
  sim: {type: sim}
  broken: {type: openai, api_key: k, base_url: "%s/v1", timeout_s: 2}
models:
  chat:
    deployments: [{provider: sim, model: a}]
    fallbacks: [backup]
  backup:
    deployments: [{provider: sim, model: b}]
  flaky:
    deployments: [{provider: broken, model: x}]
    fallbacks: [backup]
"""


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "proctor.yaml"
    path.write_text(CONFIG % closed_port_url())
    return path


def test_offline_drill_reports_every_fault_as_survived(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            *("drill", "--config", str(_write(tmp_path)), "--model", "chat"),
            *("--requests", "3", "--fault", "500", "--fault", "refused", "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {(r["fault"], r["stream"]) for r in rows} == {
        ("500", False),
        ("500", True),
        ("refused", False),
        ("refused", True),
    }
    for row in rows:
        assert row["succeeded"] == row["requests"] == 3
        assert row["via"] == {"backup": 3}


def test_unknown_fault_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["drill", "--config", str(_write(tmp_path)), "--fault", "meteor"]
    )
    assert result.exit_code == 2
    assert "meteor" in result.output


def test_live_drill_finds_the_broken_path(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["drill", "--config", str(_write(tmp_path)), "--live", "--json"]
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    by_path = {(r["model"], r["position"]): r for r in report["results"]}
    assert by_path[("chat", 0)]["ok"]
    assert by_path[("chat", 1)]["deployment"] == "sim/b"
    assert not by_path[("flaky", 0)]["ok"]
    assert "cannot connect" in by_path[("flaky", 0)]["error"]
    assert by_path[("flaky", 1)]["ok"]


async def test_scheduled_drill_keeps_the_last_result_and_records_an_event(tmp_path: Path) -> None:
    raw = config_mod.parse(CONFIG % closed_port_url())
    config = config_mod.from_dict(
        {
            **msgspec.to_builtins(raw),
            "drills": {"every_s": 0.05},
            "store": {"url": f"sqlite:///{tmp_path / 'log.db'}", "flush_interval_ms": 10},
        }
    )
    async with Gateway(config) as gateway:
        for _ in range(200):
            if gateway.last_drill is not None:
                break
            await asyncio.sleep(0.05)
        assert gateway.last_drill is not None
        assert not gateway.last_drill.ok
        await asyncio.sleep(0.1)
        events = await gateway.store.recent_events(kind="drill_failed")
    assert events
    assert "flaky" in events[0]["detail"]
