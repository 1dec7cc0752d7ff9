"""GET /metrics against a real server: exact counts after known traffic, bounded labels,
breaker states, and the same guard as the admin API."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from proctor.app import Gateway
from proctor.config import Config
from proctor.server.app import create_app
from tests.fakes.upstream import FakeUpstream
from tests.gateway_server import ServerThread, sim_config

Samples = list[tuple[str, dict[str, str], float]]
HI = [{"role": "user", "content": "hi"}]
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def serve(config: Config) -> Iterator[tuple[ServerThread, Gateway]]:
    app = create_app(config)
    server = ServerThread(app)
    server.start()
    try:
        yield server, app.state.gateway
    finally:
        server.stop()


def post(server: ServerThread, path: str, body: object, **kw: Any) -> httpx.Response:
    return httpx.post(server.url + path, content=json.dumps(body).encode(), timeout=30, **kw)


def chat(server: ServerThread, model: str = "sim-small", **kw: Any) -> httpx.Response:
    headers = kw.pop("headers", None)
    return post(
        server, "/v1/chat/completions", {"model": model, "messages": HI, **kw}, headers=headers
    )


def scrape(server: ServerThread, **kw: Any) -> Samples:
    reply = httpx.get(server.url + "/metrics", timeout=30, **kw)
    assert reply.status_code == 200, reply.text
    return [
        (s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(reply.text)
        for s in family.samples
    ]


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        value
        for sample, have, value in samples
        if sample == name and all(have.get(k) == v for k, v in labels.items())
    )


def values(samples: Samples, name: str, label: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for sample, have, value in samples:
        if sample == name:
            found[have[label]] = found.get(have[label], 0.0) + value
    return found


def scrape_after(server: ServerThread, requests: int) -> Samples:
    """Scrape once the writer has flushed (and so observed) `requests` finished requests."""
    deadline = time.monotonic() + 10
    while True:
        samples = scrape(server)
        seen = total(samples, "proctor_requests_total")
        if seen >= requests or time.monotonic() > deadline:
            assert seen == requests
            return samples
        time.sleep(0.02)


def test_counts_and_sums_after_known_traffic(tmp_path: Path) -> None:
    with serve(sim_config(tmp_path)) as (server, _):
        search = {"x-proctor-feature": "search", "x-proctor-endpoint": "/ask"}
        replies = [
            chat(server, headers=search, user="u-secret-1"),
            chat(server, headers=search),
            chat(server),
        ]
        with httpx.stream(
            "POST",
            server.url + "/v1/chat/completions",
            json={
                "model": "sim-small",
                "messages": HI,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
            timeout=30,
        ) as stream:
            assert stream.status_code == 200
            events = [line[6:] for line in stream.iter_lines() if line.startswith("data: {")]
        embed = post(server, "/v1/embeddings", {"model": "sim-embed", "input": ["a b c"]})
        missing = chat(server, model="no-such-model")
        assert [r.status_code for r in [*replies, embed, missing]] == [200] * 4 + [404]
        samples = scrape_after(server, 6)
        log = httpx.get(server.url + "/admin/requests", timeout=30).json()["data"]

    usages = [r.json()["usage"] for r in replies] + [json.loads(events[-1])["usage"]]
    embed_usage = embed.json()["usage"]

    requests = "proctor_requests_total"
    assert total(samples, requests, model="sim-small", status="200", operation="chat") == 4
    assert total(samples, requests, model="sim-small", feature="search") == 2
    assert total(samples, requests, model="sim-small", feature="none") == 2
    assert total(samples, requests, model="sim-embed", operation="embeddings") == 1
    assert total(samples, requests, deployment="sim/small", provider="sim", api="openai") == 4
    assert total(samples, requests, model="no-such-model", status="404", provider="none") == 1
    assert total(samples, "proctor_errors_total") == 1
    assert total(samples, "proctor_errors_total", error_type="404", model="no-such-model") == 1

    duration = "gen_ai_client_operation_duration_seconds_count"
    assert total(samples, duration) == 6
    assert total(samples, duration, error_type="404", gen_ai_provider_name="none") == 1
    assert total(samples, duration, gen_ai_operation_name="embeddings") == 1
    ttft = "gen_ai_server_time_to_first_token_seconds_count"
    assert total(samples, ttft, stream="true", gen_ai_request_model="sim-small") == 1
    assert total(samples, ttft, stream="false", gen_ai_request_model="sim-small") == 3

    tokens = "gen_ai_client_token_usage_sum"
    chat_tokens = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "sim"}
    assert total(samples, tokens, gen_ai_token_type="input", **chat_tokens) == sum(
        u["prompt_tokens"] for u in usages
    )
    assert total(samples, tokens, gen_ai_token_type="output", **chat_tokens) == sum(
        u["completion_tokens"] for u in usages
    )
    assert total(samples, "gen_ai_client_token_usage_count", gen_ai_token_type="input") == 5
    assert (
        total(samples, tokens, gen_ai_operation_name="embeddings") == embed_usage["prompt_tokens"]
    )

    costs = [row["cost_usd"] for row in log if row["cost_usd"] is not None]
    assert len(costs) == 5
    assert total(samples, "proctor_cost_usd_total") == pytest.approx(sum(costs))
    search_cost = sum(float(r.headers["x-proctor-cost-usd"]) for r in replies[:2])
    assert total(
        samples, "proctor_cost_usd_total", feature="search", endpoint="/ask"
    ) == pytest.approx(search_cost, abs=1e-7)
    assert total(samples, "proctor_unpriced_requests_total") == 0

    stages = values(samples, "proctor_stage_duration_seconds_count", "stage")
    guards = {"guard_in": 6, "guard_out": 6}  # the default guards
    assert stages == {"identify": 6, "settle": 6, "admit": 6, **guards, "route": 6, "call": 5}
    assert values(samples, "proctor_attempts_total", "deployment") == {
        "sim/small": 4,
        "sim/embed": 1,
    }
    assert total(samples, "proctor_attempts_total", outcome="ok", status="200") == 5
    assert total(samples, "proctor_fallbacks_total") == 0
    assert values(samples, "proctor_cache_requests_total", "cache") == {"miss": 5}
    assert total(samples, "proctor_guard_findings_total") == 0

    # Gauges read at scrape time.
    assert total(samples, "proctor_requests_in_flight") == 0
    assert total(samples, "proctor_requests_in_flight_limit") == 1024
    assert total(samples, "proctor_breaker_state", deployment="sim/small") == 0
    assert total(samples, "proctor_request_log_queue_capacity") == 100_000
    assert total(samples, "proctor_request_log_dropped_total") == 0
    assert total(samples, "proctor_keyring_keys") == 0
    assert total(samples, "proctor_limits_backend_failures_total") == 0
    assert total(samples, "proctor_events_total") == 0

    # No user or request id in any label; no `_created` series.
    labels = {value for _, have, _ in samples for value in have.values()}
    assert "u-secret-1" not in labels
    assert not any(value.startswith("req_") for value in labels)
    assert not any(name.endswith("_created") for name, _, _ in samples)


def test_caller_chosen_label_values_are_capped(tmp_path: Path) -> None:
    with serve(sim_config(tmp_path)) as (server, gateway):
        gateway.metrics.features.limit = 3
        gateway.metrics.models.limit = 2
        for i in range(6):
            assert chat(server, headers={"x-proctor-feature": f"f{i}"}).status_code == 200
        for i in range(3):
            assert chat(server, model=f"unknown-{i}").status_code == 404
        # A configured model is never folded into `other`, however full the cap is.
        embed = post(server, "/v1/embeddings", {"model": "sim-embed", "input": "x"})
        assert embed.status_code == 200
        samples = scrape_after(server, 10)

    features = values(samples, "proctor_requests_total", "feature")
    assert features == {"f0": 1, "f1": 1, "f2": 1, "other": 3, "none": 4}
    models = values(samples, "proctor_requests_total", "model")
    assert models == {"sim-small": 6, "unknown-0": 1, "unknown-1": 1, "other": 1, "sim-embed": 1}


def test_breaker_state_attempts_and_fallbacks(tmp_path: Path) -> None:
    failing = {"provider": "bad", "model": "small"}
    config = sim_config(
        tmp_path,
        providers={"sim": {"type": "sim"}, "bad": {"type": "sim", "error_rate": 1.0}},
        models={
            "sim-small": {"deployments": [{"provider": "sim", "model": "small"}]},
            "broken": {
                "deployments": [failing],
                "retry": {"attempts": 0},
                "breaker": {"consecutive_failures": 1, "cooldown_s": 600},
            },
            "resilient": {
                "deployments": [{"provider": "bad", "model": "large"}],
                "fallbacks": ["sim-small"],
                "retry": {"attempts": 0},
            },
        },
    )
    with serve(config) as (server, _):
        first = chat(server, model="broken")
        second = chat(server, model="broken")
        rescued = chat(server, model="resilient")
        assert first.status_code >= 500
        assert second.status_code == 503
        assert rescued.status_code == 200
        samples = scrape_after(server, 3)

    assert values(samples, "proctor_breaker_state", "deployment") == {
        "bad/small": 2,
        "bad/large": 0,
        "sim/small": 0,
    }
    attempts = "proctor_attempts_total"
    assert total(samples, attempts, deployment="bad/small", outcome="error") == 1
    assert total(samples, attempts, deployment="bad/small", outcome="skipped", status="0") == 1
    assert total(samples, attempts, deployment="bad/large", outcome="error") == 1
    assert total(samples, attempts, deployment="sim/small", outcome="ok") == 1
    assert total(samples, "proctor_fallbacks_total", model="resilient") == 1
    assert total(samples, "proctor_fallbacks_total", deployment="sim/small") == 1
    assert total(samples, "proctor_errors_total", model="broken") == 2
    assert total(samples, "proctor_errors_total", error_type="503") == 1


def test_metrics_need_the_admin_key_when_one_is_set(tmp_path: Path) -> None:
    with serve(sim_config(tmp_path, server={"admin_key": "s3cret"})) as (server, _):
        url = server.url + "/metrics"
        assert httpx.get(url, timeout=30).status_code == 401
        bad = httpx.get(url, headers={"authorization": "Bearer nope"}, timeout=30)
        assert bad.status_code == 401
        assert scrape(server, headers={"authorization": "Bearer s3cret"})
        assert scrape(server, headers={"x-api-key": "s3cret"})
        reply = httpx.get(url, headers={"authorization": "Bearer s3cret"}, timeout=30)
        assert reply.headers["content-type"].startswith("text/plain")


def test_metrics_without_admin_key_answer_open_hosts_only(tmp_path: Path) -> None:
    with serve(sim_config(tmp_path, server={"open_hosts": ["10.9.9.9"]})) as (server, _):
        assert httpx.get(server.url + "/metrics", timeout=30).status_code == 401
    with serve(sim_config(tmp_path)) as (server, _):
        assert scrape(server)


def test_cached_and_reasoning_tokens_unpriced_models_and_events(
    tmp_path: Path, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.cached_tokens = 7
    fake_upstream.reasoning_tokens = 3
    base_url = fake_upstream.url + "/v1"
    config = sim_config(
        tmp_path,
        providers={"up": {"type": "openai", "api_key": "k", "base_url": base_url}},
        models={"mystery": {"deployments": [{"provider": "up", "model": "mystery-model"}]}},
    )
    with serve(config) as (server, _):
        for _ in range(2):
            assert chat(server, model="mystery").status_code == 200
        samples = scrape_after(server, 2)

    assert total(samples, "proctor_cached_tokens_total", model="mystery", provider="up") == 14
    assert total(samples, "proctor_reasoning_tokens_total", model="mystery") == 6
    assert values(samples, "proctor_unpriced_requests_total", "model") == {"mystery-model": 2}
    assert total(samples, "proctor_cost_usd_total") == 0
    # The pricer emits one event per unpriced model, however many requests it sees.
    assert values(samples, "proctor_events_total", "kind") == {"unpriced_model": 1}


def test_grafana_dashboard_uses_only_exported_metrics(tmp_path: Path) -> None:
    with serve(sim_config(tmp_path)) as (server, _):
        reply = httpx.get(server.url + "/metrics", timeout=30)
    exported: set[str] = set()
    for family in text_string_to_metric_families(reply.text):
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        exported.update(family.name + s for s in suffixes.get(family.type, [""]))
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "proctor.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    # Metric names only: drop the label names of `by (...)` clauses and `{...}` selectors.
    bare = [re.sub(r"\bby \([^)]*\)|\{[^}]*\}", "", expr) for expr in exprs]
    used = {name for expr in bare for name in re.findall(r"\b(?:proctor|gen_ai)_\w+", expr)}
    assert len(used) > 15
    assert used <= exported, used - exported
