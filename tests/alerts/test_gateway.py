"""The engine inside a Gateway: fed by the writer, raised by emit, recorded as events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from proctor import config as config_mod
from proctor.app import Gateway
from tests.alerts.receiver import Receiver

CONFIG = """
providers: {sim: {type: sim}}
models: {chat: {deployments: [{provider: sim, model: a}]}}
store: {url: "sqlite:///%(db)s", flush_interval_ms: 10}
alerts:
  sinks: [{type: webhook, url: "%(url)s/hook"}]
  evaluate_every: 0.05
  rules:
    - {name: busy, metric: requests, window: 1m, above: 2, by: model}
    - {name: model-changed, event: model_version_changed}
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


async def _wait_for(receiver: Receiver, count: int) -> list[dict[str, object]]:
    got = await asyncio.to_thread(receiver.wait_for, count, 5.0)
    return [r.body for r in got]


async def test_requests_and_events_raise_alerts(tmp_path: Path, receiver: Receiver) -> None:
    config = config_mod.parse(CONFIG % {"db": tmp_path / "p.db", "url": receiver.url})
    message = [{"role": "user", "content": "hi"}]
    async with Gateway(config) as gateway:
        for _ in range(3):
            await gateway.chat({"model": "chat", "messages": message})
        [busy] = await _wait_for(receiver, 1)
        assert (busy["rule"], busy["subject"], busy["value"]) == ("busy", "model=chat", 3.0)

        gateway.emit("model_version_changed", "chat", {"was": "a-1", "now": "a-2"})
        changed = (await _wait_for(receiver, 2))[1]
        assert (changed["rule"], changed["event"], changed["subject"]) == (
            "model-changed",
            "model_version_changed",
            "chat",
        )
        await asyncio.sleep(0.1)  # the writer's next flush
        events = await gateway.store.recent_events(kind="alert")
    assert sorted(e["subject"] for e in events) == ["busy/model=chat", "model-changed/chat"]
    detail = json.loads(next(e["detail"] for e in events if e["subject"] == "busy/model=chat"))
    assert detail["summary"] == busy["summary"]


async def test_reload_applies_new_rules(tmp_path: Path, receiver: Receiver) -> None:
    config = config_mod.parse(CONFIG % {"db": tmp_path / "p.db", "url": receiver.url})
    async with Gateway(config) as gateway:
        assert [r.name for r in gateway.alerts.rules] == ["busy", "model-changed"]
        text = CONFIG.replace("model_version_changed", "drill_failed")
        await gateway.reload(
            config_mod.parse(text % {"db": tmp_path / "p.db", "url": receiver.url})
        )
        gateway.emit("model_version_changed", "chat", {})  # no rule watches it any more
        gateway.emit("drill_failed", "failover paths", {"ok": False})
        [alert] = await _wait_for(receiver, 1)
        assert alert["event"] == "drill_failed"
        await asyncio.sleep(0.1)
        assert len(receiver.received) == 1
