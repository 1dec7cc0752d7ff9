"""The tracer: turns finished requests into traces, keeps them and exports them.

It is a BatchWriter observer: the writer hands it each batch of finished requests in its
background flush, never on a request's path. For each request it builds the spans
(telemetry/spans.py), queues their rows for the store's `spans` table (written by one task
at a time, one transaction per batch) and, with `telemetry.otlp` set, hands them to the OTLP
export thread (telemetry/otlp.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence

import msgspec

from proctor.config import (
    AnthropicProviderConfig,
    AzureProviderConfig,
    Config,
    OpenAIProviderConfig,
    OTLPConfig,
    ProviderConfig,
    TelemetryConfig,
)
from proctor.context import Context
from proctor.store.base import TraceStore
from proctor.store.spans import SpanRecord
from proctor.telemetry import attributes as attrs
from proctor.telemetry.otlp import OTLPExport
from proctor.telemetry.spans import Settings, Span, SpanBuilder

log = logging.getLogger("proctor.telemetry")
_encoder = msgspec.json.Encoder()
# OpenAI-compatible profiles whose vendor has a well-known gen_ai.provider.name; other
# profiles (vllm, ollama...) are named by their profile.
_PROFILE_NAMES = {"groq": "groq", "mistral": "mistral_ai", "deepseek": "deepseek"}


def provider_name(provider: ProviderConfig) -> str:
    """gen_ai.provider.name of a configured provider."""
    if isinstance(provider, OpenAIProviderConfig):
        return _PROFILE_NAMES.get(provider.profile, provider.profile)
    if isinstance(provider, AzureProviderConfig):
        return "azure.ai.openai"
    if isinstance(provider, AnthropicProviderConfig):
        return "anthropic"
    return "proctor.sim"  # the offline simulator


def provider_names(config: Config) -> dict[str, str]:
    """Provider instance (config key) -> gen_ai.provider.name."""
    names = {name: provider_name(provider) for name, provider in config.providers.items()}
    names.setdefault("proctor", "proctor")  # the static reply of a degraded model
    return names


def span_records(spans: Sequence[Span]) -> list[SpanRecord]:
    """The store's rows for spans (the spans of a trace come together: its id is formatted
    once)."""
    rows = []
    session_key, request_key = attrs.TAGS["session"], attrs.REQUEST_ID
    trace_id, trace_hex = -1, ""
    for span in spans:
        if span.trace_id != trace_id:
            trace_id, trace_hex = span.trace_id, f"{span.trace_id:032x}"
        attributes = span.attributes
        root = span.kind == "server"
        session = attributes.get(session_key) if root else None
        request_id = attributes.get(request_key) if root else None
        rows.append(
            SpanRecord(
                trace_id=trace_hex,
                span_id=f"{span.span_id:016x}",
                parent_id=f"{span.parent_id:016x}" if span.parent_id is not None else None,
                request_id=request_id if isinstance(request_id, str) else None,
                session=session if isinstance(session, str) else None,
                name=span.name,
                kind=span.kind,
                start_ns=span.start_ns,
                end_ns=span.end_ns,
                status=span.status,
                status_message=span.status_message,
                attributes=_encoder.encode(attributes).decode(),
                events=_encoder.encode(span.events).decode() if span.events else "[]",
            )
        )
    return rows


class Tracer:
    def __init__(self, store: object, *, max_pending: int = 200_000) -> None:
        self.store = store if isinstance(store, TraceStore) else None
        self.max_pending = max_pending
        self.telemetry = TelemetryConfig()
        self.builder = SpanBuilder(Settings(), random.Random())
        self.export: OTLPExport | None = None
        self._export_key: tuple[OTLPConfig, str] | None = None
        self._pending: list[SpanRecord] = []
        self._writing: asyncio.Task[None] | None = None
        self.traces = 0  # requests traced
        self.failures = 0  # requests whose spans could not be built, batches not stored
        self.dropped = 0  # span rows dropped: too many waiting, or a failed write

    def configure(self, config: Config) -> None:
        """Apply a (re)loaded configuration; a changed collector gets a new exporter."""
        telemetry = config.telemetry
        settings = Settings(
            capture_content=telemetry.capture_content,
            max_content_chars=telemetry.max_content_chars,
            provider_names=provider_names(config),
            sample_ratio=telemetry.otlp.sample_ratio if telemetry.otlp is not None else 1.0,
        )
        self.builder = SpanBuilder(settings, self.builder.rng)
        otlp = telemetry.otlp
        key = (otlp, telemetry.service_name) if otlp is not None else None
        if key != self._export_key:
            old, self._export_key = self.export, key
            self.export = OTLPExport(otlp, telemetry.service_name) if otlp is not None else None
            if old is not None:
                old.shutdown_in_background()
        self.telemetry = telemetry

    def observe(self, contexts: Sequence[Context]) -> None:
        """The writer's observer: build, queue and hand over the spans of finished requests."""
        telemetry = self.telemetry
        if not telemetry.traces or not contexts:
            return
        stored: list[Span] = []
        exported: list[Span] = []
        build = self.builder.build
        storing = telemetry.store_spans and self.store is not None
        for ctx in contexts:
            keep = storing and _worth_storing(ctx, telemetry.store_sample_ratio)
            if not keep and self.export is None:
                continue
            try:
                spans = build(ctx)
            except Exception:  # one odd request must not cost the others their traces
                self.failures += 1
                log.exception("could not build the trace of %s", ctx.request_id)
                continue
            if keep:
                stored.extend(spans)
            exported.extend(spans)
        self.traces += len(contexts)
        if stored:
            self._store(span_records(stored))
        if self.export is not None and exported:
            self.export.submit(exported)

    def _store(self, rows: list[SpanRecord]) -> None:
        room = self.max_pending - len(self._pending)
        if room < len(rows):
            self.dropped += len(rows) - max(room, 0)
            rows = rows[: max(room, 0)]
        self._pending.extend(rows)
        if self._pending and (self._writing is None or self._writing.done()):
            self._writing = asyncio.get_running_loop().create_task(
                self._write(), name="proctor-span-writer"
            )

    async def _write(self) -> None:
        assert self.store is not None
        while self._pending:
            rows, self._pending = self._pending, []
            try:
                await self.store.write_spans(rows)
            except Exception:
                self.failures += 1
                self.dropped += len(rows)
                log.exception("could not store %d spans; they are dropped", len(rows))

    async def close(self) -> None:
        """After the writer's last flush: store what is queued, export it, stop exporting."""
        if self._writing is not None:
            await self._writing
        export, self.export = self.export, None
        if export is not None:
            await asyncio.to_thread(export.shutdown)


def _worth_storing(ctx: Context, ratio: float) -> bool:
    """Every failed, retried or fallen-back request, and every one whose caller's traceparent
    asked for sampling; a sample of the rest, decided from the request id (random)."""
    if ctx.status >= 400 or len(ctx.attempts) > 1:
        return True
    if ctx.headers.get("traceparent", "").endswith("-01"):
        return True
    try:
        return int(ctx.request_id[-8:], 16) < ratio * 0x1_0000_0000
    except ValueError:
        return True
