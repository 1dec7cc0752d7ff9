"""User ratings reach the alert series: a feedback_score rule fires on them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.gateway_server import running_gateway, sim_config


def test_bad_ratings_fire_a_feedback_score_rule(tmp_path: Path) -> None:
    alerts = {
        "sinks": [{"type": "log"}],
        "rules": [
            {"name": "unhappy", "metric": "feedback_score", "window": "1h", "below": 0.0},
        ],
    }
    with running_gateway(sim_config(tmp_path, alerts=alerts)) as server:
        gateway: Any = server.server.config.app.state.gateway
        with httpx.Client(base_url=server.url, timeout=30) as http:
            chat = {"model": "sim-small", "messages": [{"role": "user", "content": "hi"}]}
            request_id = http.post("/v1/chat/completions", json=chat).headers["x-request-id"]
            time.sleep(0.1)  # the request's row and recent-request entry are flushed
            reply = http.post("/v1/feedback", json={"request_id": request_id, "score": -1})
            assert reply.status_code == 200, reply.text
        fired = gateway.alerts.evaluate()
    assert [(a.rule, a.status) for a in fired] == [("unhappy", "firing")]
