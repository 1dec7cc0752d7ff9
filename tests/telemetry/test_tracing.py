"""Trace spans: the tree of a streamed request that fell back, W3C trace context, the OTLP
export to real collectors (HTTP/protobuf and gRPC), content capture, the admin API."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from proctor import config as config_mod
from proctor import pipeline
from proctor.app import Gateway
from proctor.config import Config, ConfigError
from proctor.config.guards import GuardsConfig
from proctor.context import ChatStream, Context, Finding, Reply
from proctor.store.base import TraceStore
from proctor.store.sqlite import SQLiteStore
from proctor.telemetry.spans import Settings, SpanBuilder, parse_traceparent
from proctor.wire.types import ChatRequest, ChatResponse, Message
from tests.gateway_server import running_gateway, sim_config
from tests.telemetry.collector import GrpcCollector, HttpCollector

TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE}-{CALLER_SPAN}-01"
STAGES = ["identify", "settle", "admit", "guard_in", "guard_out", "route", "call"]


def _config(tmp_path: Path, **telemetry: Any) -> Config:
    """`primary` always fails (sim, error rate 1) and falls back to the healthy `backup`."""
    return config_mod.from_dict(
        {
            "store": {"url": f"sqlite:///{tmp_path / 'p.db'}", "flush_interval_ms": 10},
            "providers": {"bad": {"type": "sim", "error_rate": 1.0}, "good": {"type": "sim"}},
            "models": {
                "primary": {
                    "deployments": [{"provider": "bad", "model": "small"}],
                    "fallbacks": ["backup"],
                    "retry": {"attempts": 0},
                },
                "backup": {"deployments": [{"provider": "good", "model": "small"}]},
            },
            "telemetry": telemetry,
        }
    )


def _chat(stream: bool = True, content: str = "hello") -> dict[str, Any]:
    return {
        "model": "primary",
        "stream": stream,
        "stream_options": {"include_usage": True} if stream else None,
        "temperature": 0.5,
        "max_tokens": 40,
        "messages": [{"role": "user", "content": content}],
    }


async def _ask(gateway: Gateway, session: str, *, stream: bool = True, **kw: Any) -> None:
    headers = {"x-proctor-session": session, **kw.pop("headers", {})}
    reply = await gateway.chat(_chat(stream, **kw), headers=headers)
    if isinstance(reply, ChatStream):
        async for _ in reply:
            pass


async def _trace(store: TraceStore, session: str) -> list[dict[str, Any]]:
    """The spans of the session's one trace, once the writer and the tracer have stored it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        roots = await store.find_traces(session=session)
        if roots:
            rows = await store.get_trace(roots[0]["trace_id"])
            for row in rows:
                row["attributes"] = json.loads(row["attributes"])
                row["events"] = json.loads(row["events"])
            return rows
        await asyncio.sleep(0.01)
    raise AssertionError(f"no trace stored for session {session}")


def _inside(child: dict[str, Any], parent: dict[str, Any]) -> bool:
    return bool(parent["start_ns"] <= child["start_ns"] <= child["end_ns"] <= parent["end_ns"])


async def test_streamed_fallback_trace_tree(tmp_path: Path) -> None:
    async with Gateway(_config(tmp_path)) as gateway:
        await _ask(gateway, "s-tree")
        assert isinstance(gateway.store, TraceStore)
        spans = await _trace(gateway.store, "s-tree")
    by_id = {span["span_id"]: span for span in spans}
    root = spans[0]
    assert (root["name"], root["kind"], root["parent_id"]) == ("chat primary", "server", None)
    stages = [span for span in spans if span["kind"] == "internal"]
    attempts = [span for span in spans if span["kind"] == "client"]
    assert [span["name"] for span in stages] == STAGES
    assert len(spans) == 1 + len(STAGES) + 2
    # The onion: each stage is the child of the one before, and lies within it.
    parent = root
    for stage in stages:
        assert stage["parent_id"] == parent["span_id"]
        assert _inside(stage, parent)
        assert stage["attributes"]["proctor.stage"] == stage["name"]
        assert stage["attributes"]["proctor.stage.own_ms"] >= 0
        parent = stage
    call = stages[-1]
    failed, served = attempts
    for attempt in attempts:
        assert by_id[attempt["parent_id"]] is call
        assert _inside(attempt, call)
        assert attempt["name"] == "chat small"
    assert failed["end_ns"] <= served["start_ns"]
    assert failed["status"] == "error"
    assert failed["attributes"]["proctor.deployment"] == "bad/small"
    assert failed["attributes"]["proctor.attempt.status"] >= 500
    assert "simulated failure" in failed["attributes"]["proctor.attempt.error"]
    assert failed["attributes"]["error.type"] == str(failed["attributes"]["proctor.attempt.status"])
    assert served["status"] == "unset"
    assert served["attributes"]["proctor.deployment"] == "good/small"
    assert served["attributes"]["gen_ai.response.model"] == "sim/small"
    assert served["attributes"]["gen_ai.provider.name"] == "proctor.sim"

    attributes = root["attributes"]
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "primary"
    assert attributes["gen_ai.request.max_tokens"] == 40
    assert attributes["gen_ai.request.temperature"] == 0.5
    assert attributes["gen_ai.response.model"] == "sim/small"
    assert attributes["gen_ai.provider.name"] == "proctor.sim"
    assert attributes["gen_ai.usage.input_tokens"] > 0
    assert attributes["gen_ai.usage.output_tokens"] > 0
    assert attributes["gen_ai.conversation.id"] == "s-tree"
    assert attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert attributes["proctor.cost_usd"] > 0
    assert attributes["proctor.attempts"] == 2
    assert attributes["proctor.deployment"] == "good/small"
    assert attributes["proctor.request_id"].startswith("req_")
    assert attributes["proctor.status"] == 200
    assert attributes["proctor.stream"] is True
    # The root lasts until the stream's end, after the stages handed the stream on.
    assert root["end_ns"] >= max(span["end_ns"] for span in spans)
    # Capture is off by default: no message content anywhere.
    assert all("gen_ai.input.messages" not in span["attributes"] for span in spans)


async def test_traceparent_gives_the_trace_and_the_parent(tmp_path: Path) -> None:
    async with Gateway(_config(tmp_path)) as gateway:
        assert isinstance(gateway.store, TraceStore)
        await _ask(gateway, "s-caller", stream=False, headers={"traceparent": TRACEPARENT})
        await _ask(gateway, "s-bad", stream=False, headers={"traceparent": f"00-{'0' * 32}-1-01"})
        called = await _trace(gateway.store, "s-caller")
        alone = await _trace(gateway.store, "s-bad")
    assert {span["trace_id"] for span in called} == {TRACE}
    assert called[0]["parent_id"] == CALLER_SPAN
    assert alone[0]["trace_id"] != TRACE
    assert len(alone[0]["trace_id"]) == 32
    assert alone[0]["parent_id"] is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (TRACEPARENT, (int(TRACE, 16), int(CALLER_SPAN, 16), True)),
        (f"  {TRACEPARENT} ", (int(TRACE, 16), int(CALLER_SPAN, 16), True)),
        (f"00-{TRACE}-{CALLER_SPAN}-00", (int(TRACE, 16), int(CALLER_SPAN, 16), False)),
        (f"01-{TRACE}-{CALLER_SPAN}-03-future", (int(TRACE, 16), int(CALLER_SPAN, 16), True)),
        (f"00-{TRACE}-{CALLER_SPAN}-01-extra", None),  # version 00 has exactly four fields
        (f"ff-{TRACE}-{CALLER_SPAN}-01", None),
        (f"00-{TRACE.upper()}-{CALLER_SPAN}-01", None),
        (f"00-{'0' * 32}-{CALLER_SPAN}-01", None),
        (f"00-{TRACE}-{'0' * 16}-01", None),
        ("garbage", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_traceparent(header: str | None, expected: tuple[int, int, bool] | None) -> None:
    assert parse_traceparent(header) == expected


def _by_name(spans: list[Any], name: str) -> Any:
    return next(span for span in spans if span.name == name)


async def test_otlp_http_export_reaches_a_collector(tmp_path: Path) -> None:
    with HttpCollector() as collector:
        otlp = {"endpoint": collector.url, "headers": {"x-tenant": "t1"}, "timeout_s": 5}
        config = _config(tmp_path, otlp=otlp, service_name="gw-test")
        unsampled = f"00-{'1' * 32}-{CALLER_SPAN}-00"
        async with Gateway(config) as gateway:
            await _ask(gateway, "s-http", headers={"traceparent": TRACEPARENT})
            # The caller did not sample this one: kept locally, not exported.
            await _ask(gateway, "s-unsampled", headers={"traceparent": unsampled})
            assert isinstance(gateway.store, TraceStore)
            assert (await _trace(gateway.store, "s-unsampled"))[0]["trace_id"] == "1" * 32
        # Closing the gateway stored, exported and flushed everything.
        spans = collector.spans
    assert collector.requests >= 1
    assert len(spans) == 1 + len(STAGES) + 2
    root = _by_name(spans, "chat primary")
    assert root.trace_id == TRACE
    assert root.parent_id == CALLER_SPAN
    assert root.kind == 2  # SPAN_KIND_SERVER
    assert root.resource["service.name"] == "gw-test"
    assert root.scope == "proctor"
    assert root.headers["x-tenant"] == "t1"
    assert root.attributes["gen_ai.operation.name"] == "chat"
    assert root.attributes["gen_ai.conversation.id"] == "s-http"
    assert root.attributes["gen_ai.usage.output_tokens"] > 0
    assert root.attributes["proctor.attempts"] == 2
    call = _by_name(spans, "call")
    attempts = [span for span in spans if span.kind == 3]  # SPAN_KIND_CLIENT
    assert len(attempts) == 2
    assert all(span.parent_id == call.span_id for span in attempts)
    assert sorted(span.status_code for span in attempts) == [0, 2]  # UNSET, ERROR
    assert {span.trace_id for span in spans} == {TRACE}


async def test_otlp_grpc_export_reaches_a_collector(tmp_path: Path) -> None:
    with GrpcCollector() as collector:
        otlp = {"endpoint": collector.url, "protocol": "grpc", "headers": {"X-Key": "k"}}
        async with Gateway(_config(tmp_path, otlp=otlp)) as gateway:
            await _ask(gateway, "s-grpc", stream=False)
        spans = collector.spans
    root = _by_name(spans, "chat primary")
    assert root.parent_id == ""
    assert root.headers["x-key"] == "k"
    assert root.attributes["gen_ai.request.model"] == "primary"
    assert root.attributes["proctor.stream"] is False
    assert [span.name for span in spans if span.kind == 1] == STAGES  # SPAN_KIND_INTERNAL


async def test_capture_content_is_redacted(tmp_path: Path) -> None:
    secret = "write to jane.doe@example.com, card 4111 1111 1111 1111, key sk-abcdefghijklmnop12345"
    # The guards would block the key and put placeholders in the prompt; this test is about
    # the trace's own redaction, so they are off.
    config = msgspec.structs.replace(
        _config(tmp_path, capture_content=True), guards=GuardsConfig(enabled=False)
    )
    async with Gateway(config) as gateway:
        assert isinstance(gateway.store, TraceStore)
        await _ask(gateway, "s-content", content=secret)
        root = (await _trace(gateway.store, "s-content"))[0]
    messages = json.loads(root["attributes"]["gen_ai.input.messages"])
    assert messages == [
        {
            "role": "user",
            "parts": [{"type": "text", "content": "write to [EMAIL], card [CARD], key [API_KEY]"}],
        }
    ]


def _context(content: str = "x") -> Context:
    ctx = Context(request=ChatRequest(model="m", messages=[Message(role="user", content=content)]))
    ctx.stage_ns = {"identify": 5_000_000, "guard_in": 1_000_000}
    ctx.stage_start_ns = {"identify": 1_000, "guard_in": 2_000_000}
    ctx.finished_ns = ctx.started_ns + 6_000_000
    return ctx


def test_findings_become_evaluation_events_and_content_is_bounded() -> None:
    ctx = _context(content="call me at +1 415 555 2671 " + "z" * 200)
    ctx.findings.append(
        Finding("guard_in", "pii.email", "redact", score=0.9, detail="found bob@example.com")
    )
    ctx.findings.append(Finding("nowhere", "odd", "flag"))
    builder = SpanBuilder(Settings(capture_content=True, max_content_chars=40), random.Random(1))
    root, identify, guard = builder.build(ctx)
    assert guard.parent_id == identify.span_id
    assert identify.parent_id == root.span_id
    (event,) = guard.events
    assert event.name == "gen_ai.evaluation.result"
    assert event.time_ns == guard.end_ns
    assert event.attributes["gen_ai.evaluation.name"] == "pii.email"
    assert event.attributes["gen_ai.evaluation.score.value"] == 0.9
    assert event.attributes["gen_ai.evaluation.score.label"] == "redact"
    assert event.attributes["proctor.finding.action"] == "redact"
    assert event.attributes["gen_ai.evaluation.explanation"] == "found [EMAIL]"
    assert [e.attributes["proctor.finding.rule"] for e in root.events] == ["odd"]
    messages = json.loads(str(root.attributes["gen_ai.input.messages"]))
    assert messages[0]["parts"][0]["content"] == "call me at [PHONE] " + "z" * 13
    assert root.attributes["proctor.content_truncated"] is True


class _Pass:
    def __init__(self, name: str) -> None:
        self.name = name

    async def __call__(self, ctx: Context, call_next: pipeline.Next) -> Reply:
        return await call_next(ctx)


class _Answer:
    name = "call"

    async def __call__(self, ctx: Context, call_next: pipeline.Next) -> Reply:
        await asyncio.sleep(0.001)
        return ChatResponse(id="1", created=0, model="m", choices=[])


async def test_stage_starts_are_recorded_in_order() -> None:
    ctx = _context()
    ctx.stage_ns, ctx.stage_start_ns = {}, {}
    await pipeline.build([_Pass("a"), _Pass("b"), _Answer()])(ctx)
    starts = list(ctx.stage_start_ns.values())
    assert list(ctx.stage_start_ns) == ["a", "b", "call"]
    assert starts == sorted(starts)
    assert starts[0] >= 0
    outer_end = starts[0] + ctx.stage_ns["a"]
    for name, start in ctx.stage_start_ns.items():
        assert start + ctx.stage_ns[name] <= outer_end


def test_sample_ratio_applies_only_without_a_callers_decision() -> None:
    ctx = _context()
    never = SpanBuilder(Settings(sample_ratio=0.0), random.Random(1))
    always = SpanBuilder(Settings(sample_ratio=1.0), random.Random(1))
    assert not any(span.sampled for span in never.build(ctx))
    assert all(span.sampled for span in always.build(ctx))
    ctx.headers["traceparent"] = TRACEPARENT
    assert all(span.sampled for span in never.build(ctx))
    ctx.headers["traceparent"] = TRACEPARENT[:-2] + "00"
    assert not any(span.sampled for span in always.build(ctx))
    half = SpanBuilder(Settings(sample_ratio=0.5), random.Random(7))
    share = sum(half.build(_context())[0].sampled for _ in range(2000)) / 2000
    assert 0.4 < share < 0.6


def test_telemetry_config_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"\$\.telemetry\.otlp\.endpoint"):
        config_mod.from_dict({"telemetry": {"otlp": {"endpoint": "collector:4317"}}})
    with pytest.raises(ConfigError, match=r"\$\.telemetry\.otlp\.timeout_s"):
        config_mod.from_dict({"telemetry": {"otlp": {"endpoint": "http://c", "timeout_s": 0}}})
    with pytest.raises(ConfigError, match=r"\$\.telemetry\.otlp\.sample_ratio"):
        config_mod.from_dict({"telemetry": {"otlp": {"endpoint": "http://c", "sample_ratio": 2}}})
    with pytest.raises(ConfigError, match="telemetry"):
        config_mod.from_dict({"telemetry": {"otlp": {"endpoint": "http://c", "protocol": "udp"}}})


def test_admin_traces_api(tmp_path: Path) -> None:
    with running_gateway(sim_config(tmp_path)) as server, httpx.Client(base_url=server.url) as http:
        chat = {"model": "sim-small", "messages": [{"role": "user", "content": "hi"}]}
        reply = http.post(
            "/v1/chat/completions",
            json=chat,
            headers={"traceparent": TRACEPARENT, "x-proctor-session": "s-admin"},
        )
        assert reply.status_code == 200
        request_id = reply.headers["x-request-id"]
        deadline = time.monotonic() + 10
        while not (found := http.get("/admin/traces", params={"session": "s-admin"}).json())[
            "data"
        ]:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        (root,) = found["data"]
        assert root["trace_id"] == TRACE
        assert root["request_id"] == request_id
        by_request = http.get("/admin/traces", params={"request_id": request_id}).json()
        assert [r["span_id"] for r in by_request["data"]] == [root["span_id"]]
        trace = http.get(f"/admin/traces/{TRACE}").json()
        assert trace["trace_id"] == TRACE
        names = [span["name"] for span in trace["spans"]]
        assert names[0] == "chat sim-small"
        assert "call" in names
        assert trace["spans"][0]["attributes"]["proctor.request_id"] == request_id
        assert trace["spans"][0]["duration_ms"] >= 0
        assert http.get(f"/admin/traces/{'1' * 32}").status_code == 404
        assert http.get("/admin/traces/xyz").status_code == 400
        assert http.get("/admin/traces", params={"limit": "0"}).status_code == 400
        assert http.get("/admin/traces", params={"sesion": "x"}).status_code == 400
    assert isinstance(SQLiteStore("sqlite:///:memory:"), TraceStore)
