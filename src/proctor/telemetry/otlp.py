"""OTLP export: spans become opentelemetry-sdk `ReadableSpan`s, sent by the official exporters.

The official OTLP exporters (HTTP/protobuf or gRPC) run behind the SDK's BatchSpanProcessor,
which owns a bounded queue and a worker thread: handing a span over is a deque append, and
the network (retries, backoff, a collector that is down) is the worker thread's business,
never the event loop's. A full queue drops the oldest spans (the SDK logs it).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from urllib.parse import urlsplit

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from proctor.config import OTLPConfig
from proctor.telemetry.spans import Span

_KINDS = {"server": SpanKind.SERVER, "client": SpanKind.CLIENT, "internal": SpanKind.INTERNAL}
_STATUS = {"unset": StatusCode.UNSET, "ok": StatusCode.OK, "error": StatusCode.ERROR}
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
SCOPE = InstrumentationScope("proctor")


def traces_url(endpoint: str) -> str:
    """An HTTP endpoint given without a path gets the standard /v1/traces."""
    if urlsplit(endpoint).path in ("", "/"):
        return endpoint.rstrip("/") + "/v1/traces"
    return endpoint


def exporter_for(config: OTLPConfig) -> SpanExporter:
    if config.protocol == "grpc":
        return GrpcSpanExporter(
            endpoint=config.endpoint,
            insecure=config.endpoint.startswith("http://"),
            # gRPC metadata keys must be lower-case.
            headers={k.lower(): v for k, v in config.headers.items()},
            timeout=config.timeout_s,
        )
    return HttpSpanExporter(
        endpoint=traces_url(config.endpoint),
        headers=dict(config.headers),
        timeout=config.timeout_s,
    )


def readable(span: Span, resource: Resource) -> ReadableSpan:
    trace_state = TraceState.from_header([span.trace_state]) if span.trace_state else None
    context = SpanContext(
        span.trace_id, span.span_id, is_remote=False, trace_flags=_SAMPLED, trace_state=trace_state
    )
    parent = None
    if span.parent_id is not None:
        parent = SpanContext(
            span.trace_id, span.parent_id, is_remote=span.parent_remote, trace_flags=_SAMPLED
        )
    return ReadableSpan(
        name=span.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=span.attributes,
        events=[Event(e.name, e.attributes, e.time_ns) for e in span.events],
        kind=_KINDS[span.kind],
        status=Status(_STATUS[span.status], span.status_message),
        start_time=span.start_ns,
        end_time=span.end_ns,
        instrumentation_scope=SCOPE,
    )


class OTLPExport:
    """One configured collector: a batch processor and its exporter."""

    def __init__(
        self, config: OTLPConfig, service_name: str, exporter: SpanExporter | None = None
    ) -> None:
        self.config = config
        self.resource = Resource.create({"service.name": service_name})
        self.processor = BatchSpanProcessor(
            exporter or exporter_for(config), max_queue_size=20_000, schedule_delay_millis=1000
        )

    def submit(self, spans: Sequence[Span]) -> None:
        """Hand spans to the export thread; never blocks. A trace the caller did not sample
        (its traceparent's flag) is not exported: the collector would get half a trace."""
        resource, on_end = self.resource, self.processor.on_end
        for span in spans:
            if span.sampled:
                on_end(readable(span, resource))

    def shutdown(self) -> None:
        """Export what is queued, then stop (blocks: call it from a thread)."""
        self.processor.shutdown()  # type: ignore[no-untyped-call]  # untyped in the SDK

    def shutdown_in_background(self) -> None:
        threading.Thread(target=self.shutdown, name="proctor-otlp-shutdown", daemon=True).start()
