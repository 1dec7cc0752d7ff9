"""The `telemetry` section: trace spans, kept locally and optionally exported over OTLP.

    telemetry:
      traces: true              # one trace per request, built after the request finished
      store_spans: true         # keep them in the store (/admin/traces)
      store_sample_ratio: 0.05  # share of ordinary requests whose spans are stored; failed,
                                # retried or fallen-back requests are always stored
      capture_content: false    # add the prompt, redacted, to the root span
      max_content_chars: 16384
      service_name: proctor
      otlp:                     # export to any collector (Jaeger, Tempo, Langfuse, Phoenix...)
        endpoint: http://127.0.0.1:4318   # http: /v1/traces is added when no path is given
        protocol: http          # or grpc (endpoint http://host:4317; https:// for TLS)
        headers: {authorization: "Bearer ${OTLP_TOKEN}"}
        timeout_s: 10
        sample_ratio: 1.0       # export this share of the traces no caller decided on

Kept apart from schema.py so that this section can grow without touching the shared file.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

import msgspec


class _Part(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class OTLPConfig(_Part, frozen=True):
    endpoint: str
    protocol: Literal["http", "grpc"] = "http"
    headers: dict[str, str] = {}
    timeout_s: float = 10.0
    # Share of traces exported when no caller's traceparent decided (its sampled flag always
    # does). Decided from the trace id, so a trace is exported whole or not at all. The local
    # store keeps every trace regardless.
    sample_ratio: float = 1.0


class TelemetryConfig(_Part, frozen=True):
    traces: bool = True
    store_spans: bool = True
    # Building and storing a request's spans costs ~150 us of CPU, half a request's own cost,
    # so by default only a sample of the uneventful requests is kept; every request's stage
    # timings are in its request-log row anyway (the dashboard's waterfall reads those).
    store_sample_ratio: float = 0.05
    # Off by default: prompts are user data. On, they are always redacted first.
    capture_content: bool = False
    max_content_chars: int = 16_384
    service_name: str = "proctor"
    otlp: OTLPConfig | None = None


def check_telemetry(telemetry: TelemetryConfig) -> str | None:
    """The first problem with the section, naming its key; None when there is none."""
    if not 0 <= telemetry.store_sample_ratio <= 1:
        return "`$.telemetry.store_sample_ratio` must be from 0 to 1"
    if telemetry.max_content_chars <= 0:
        return "`$.telemetry.max_content_chars` must be positive"
    if not telemetry.service_name:
        return "`$.telemetry.service_name` must not be empty"
    otlp = telemetry.otlp
    if otlp is None:
        return None
    url = urlsplit(otlp.endpoint)
    if url.scheme not in ("http", "https") or not url.hostname:
        return (
            "`$.telemetry.otlp.endpoint` must be an http:// or https:// URL with a host, "
            f"got {otlp.endpoint!r}"
        )
    if otlp.timeout_s <= 0:
        return f"`$.telemetry.otlp.timeout_s` must be positive, got {otlp.timeout_s}"
    if not 0 <= otlp.sample_ratio <= 1:
        return f"`$.telemetry.otlp.sample_ratio` must be from 0 to 1, got {otlp.sample_ratio}"
    return None
