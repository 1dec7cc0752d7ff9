"""Cost of tracing: what it adds on the request path, and what the tracer costs afterwards.

    .venv/bin/python bench/tracing.py [--requests 2000] [--rounds 5]

1. Hot path: the one thing tracing adds to a request is `_timed` storing each stage's start
   offset. The same trivial 5-stage pipeline is run with the stage-start store and with it
   removed; the difference per request is the cost.
2. Background: real finished requests (streamed chats that fell back: 5 stages, 2 attempts,
   usage, cost) are fed to `Tracer.observe` in batches of 100, as the writer does, and timed
   on the event loop: spans built and rows queued for the store; the same plus OTLP hand-over
   (ReadableSpans queued for the export thread, whose exporter here discards them); the same
   with content capture. Then the protobuf encoding the export thread does, off the loop,
   and the SQLite write of the rows, in the store's thread.
Times are the CPU time of the measuring thread (`time.thread_time_ns`), so that other
processes on the machine disturb them less than wall-clock time would. Timing lives here
only: the tests assert behaviour, never speed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from proctor import config as config_mod
from proctor import pipeline
from proctor.app import Gateway
from proctor.config import OTLPConfig
from proctor.context import ChatStream, Context, Reply
from proctor.store.records import record_of
from proctor.store.sqlite import SQLiteStore
from proctor.telemetry.otlp import OTLPExport, readable
from proctor.telemetry.tracing import Tracer, span_records
from proctor.wire.types import ChatRequest, ChatResponse, Message

STAGES = ("identify", "settle", "admit", "route")


class _Pass:
    def __init__(self, name: str) -> None:
        self.name = name

    async def __call__(self, ctx: Context, call_next: pipeline.Next) -> Reply:
        return await call_next(ctx)


class _Answer:
    name = "call"

    def __init__(self) -> None:
        self.reply = ChatResponse(id="1", created=0, model="m", choices=[])

    async def __call__(self, ctx: Context, call_next: pipeline.Next) -> Reply:
        return self.reply


def _timed_without_start(stage: pipeline.Stage, call_next: pipeline.Next) -> pipeline.Next:
    """`pipeline._timed` as it was before tracing: no stage-start store."""
    name = stage.name
    clock = time.perf_counter_ns

    async def run(ctx: Context) -> Reply:
        ctx.stage_ns[name] = 0
        start = clock()
        try:
            return await stage(ctx, call_next)
        finally:
            ctx.stage_ns[name] = clock() - start

    return run


def _fold(timed: Callable[[Any, pipeline.Next], pipeline.Next]) -> pipeline.Next:
    call: pipeline.Next = pipeline._end
    for stage in reversed([*map(_Pass, STAGES), _Answer()]):
        call = timed(stage, call)
    return call


async def _per_request_us(handle: pipeline.Next, n: int) -> float:
    request = ChatRequest(model="m", messages=[Message(role="user", content="hi")])
    contexts = [Context(request=request) for _ in range(n)]
    start = time.thread_time_ns()
    for ctx in contexts:
        await handle(ctx)
    return (time.thread_time_ns() - start) / n / 1000


async def hot_path(n: int, rounds: int) -> None:
    with_start, without = _fold(pipeline._timed), _fold(_timed_without_start)
    a: list[float] = []
    b: list[float] = []
    for _ in range(rounds):  # interleaved; the minimum is the least disturbed round
        b.append(await _per_request_us(without, n))
        a.append(await _per_request_us(with_start, n))
    print(f"hot path: 5-stage pipeline, {n} requests x {rounds} rounds, us per request")
    print(f"  without stage starts {min(b):7.3f} min {statistics.median(b):7.3f} median")
    print(f"  with stage starts    {min(a):7.3f} min {statistics.median(a):7.3f} median")
    print(f"  added                {min(a) - min(b):7.3f} min (5 dict stores)")


def _config(directory: Path) -> config_mod.Config:
    return config_mod.from_dict(
        {
            "store": {"url": f"sqlite:///{directory / 'requests.db'}"},
            "providers": {"bad": {"type": "sim", "error_rate": 1.0}, "good": {"type": "sim"}},
            "models": {
                "primary": {
                    "deployments": [{"provider": "bad", "model": "small"}],
                    "fallbacks": ["backup"],
                    "retry": {"attempts": 0},
                },
                "backup": {"deployments": [{"provider": "good", "model": "small"}]},
            },
            "telemetry": {"traces": False},
        }
    )


async def _finished(n: int, directory: Path) -> list[Context]:
    """n real finished requests: streamed chats that fell back, with usage and cost."""
    seen: list[Context] = []
    async with Gateway(_config(directory)) as gateway:
        gateway.writer.observers.append(seen.extend)
        for i in range(n):
            text = f"Hello, I am user {i}; mail me at user{i}@example.com, phone 555-010-{i:04d}."
            reply = await gateway.chat(
                {
                    "model": "primary",
                    "stream": True,
                    "stream_options": {"include_usage": True},
                    "messages": [{"role": "user", "content": text}],
                },
                headers={"x-proctor-session": f"s{i % 50}"},
            )
            assert isinstance(reply, ChatStream)
            async for _ in reply:
                pass
    return seen


class _Discard(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _observe_us(tracer: Tracer, contexts: Sequence[Context], batch: int = 100) -> float:
    start = time.thread_time_ns()
    for i in range(0, len(contexts), batch):
        tracer.observe(contexts[i : i + batch])
    return (time.thread_time_ns() - start) / len(contexts) / 1000


async def background(n: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        contexts = await _finished(n, directory)
        store = SQLiteStore(f"sqlite:///{directory / 'spans.db'}")
        await store.open()
        spans_each = 1 + len(contexts[0].stage_ns) + len(contexts[0].attempts)
        print(f"\nobserver: {len(contexts)} finished requests, {spans_each} spans each, us/request")
        otlp = OTLPConfig(endpoint="http://127.0.0.1:4318")
        for label, export, capture in (
            ("store only (default)", False, False),
            ("store + OTLP hand-over", True, False),
            ("  + capture_content", True, True),
        ):
            tracer = Tracer(store)
            telemetry = {"capture_content": capture}
            tracer.configure(config_mod.from_dict({**_raw(), "telemetry": telemetry}))
            if export:
                tracer.export = OTLPExport(otlp, "bench", exporter=_Discard())
            results = [_observe_us(tracer, contexts) for _ in range(rounds)]
            await tracer.close()
            print(f"  {label:24} {min(results):7.1f} min {statistics.median(results):7.1f} median")
        builder = Tracer(None).builder
        spans = [span for ctx in contexts for span in builder.build(ctx)]
        export = OTLPExport(otlp, "bench", exporter=_Discard())
        readable_spans = [readable(span, export.resource) for span in spans]
        start = time.thread_time_ns()
        encode_spans(readable_spans).SerializeToString()
        took = (time.thread_time_ns() - start) / len(contexts) / 1000
        export.shutdown()
        print(f"  OTLP protobuf encoding (export thread)                {took:7.1f}")
        # Wall clock, in batches of 100 requests like the writer's: the store's own thread.
        await store.close()
        store = SQLiteStore(f"sqlite:///{directory / 'fresh.db'}")
        await store.open()
        rows = span_records(spans)
        per = len(rows) // len(contexts) * 100
        start = time.perf_counter_ns()
        for i in range(0, len(rows), per):
            await store.write_spans(rows[i : i + per])
        took = (time.perf_counter_ns() - start) / len(contexts) / 1000
        print(f"  SQLite insert of the span rows (store thread, wall)   {took:7.1f}")
        records = [record_of(ctx) for ctx in contexts]
        start = time.perf_counter_ns()
        for i in range(0, len(records), 100):
            await store.write_batch(records[i : i + 100])
        took = (time.perf_counter_ns() - start) / len(contexts) / 1000
        print(f"  for scale: insert of the request-log row (same thread) {took:7.1f}")
        await store.close()


def _raw() -> dict[str, Any]:
    return {
        "providers": {"bad": {"type": "sim"}, "good": {"type": "sim"}},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Cost of tracing")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(hot_path(args.requests * 10, args.rounds))
    asyncio.run(background(args.requests, args.rounds))


if __name__ == "__main__":
    main()
