"""Prometheus metrics, from finished requests, off the request path.

The batched writer hands every finished request's Context to `Metrics.observe` in its
background flush loop; the request itself never touches a metric. Figures about the
gateway's live state (breakers, in-flight requests, the writer's queue, keys) are read at
scrape time by `StateCollector`. Each Gateway has its own registry, so several gateways can
live in one process. The series are plain dicts (`series.py`), updated and scraped on the
event loop: about 8-15 us per finished request, against ~40 us with prometheus-client's
own `Counter`/`Histogram` objects.

Names follow the OpenTelemetry GenAI semantic conventions where one exists
(`gen_ai.client.operation.duration` -> `gen_ai_client_operation_duration_seconds`,
`gen_ai.client.token.usage`, `gen_ai.server.time_to_first_token`), with their bucket
boundaries; everything else is `proctor_*`.

Labels never carry a user, key or request id (unbounded). Public models named in the
config, and providers, pass unchanged; every value a caller chooses (feature, endpoint, an
unknown model) goes through a `LabelCap`, so a metric has a bounded number of series.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry

from proctor.telemetry.gauges import GatewayState, StateCollector
from proctor.telemetry.labels import OTHER, LabelCap
from proctor.telemetry.series import CounterVec, HistogramVec

if TYPE_CHECKING:
    from proctor.config import Config
    from proctor.context import Attempt, Context
    from proctor.limits.admission import Admission


# Bucket boundaries from the OpenTelemetry GenAI semantic conventions.
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                    40.96, 81.92)  # fmt: skip
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
                5.0, 7.5, 10.0)  # fmt: skip
TOKEN_BUCKETS = tuple(float(4**i) for i in range(14))  # 1, 4, 16 ... 67108864
# A stage's own work is mostly microseconds; `call` holds the provider's time too.
STAGE_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)  # fmt: skip
CACHE_RESULTS = frozenset({"miss", "exact", "semantic"})

GEN_AI = ["gen_ai_operation_name", "gen_ai_request_model", "gen_ai_provider_name"]


class Sources(GatewayState, Protocol):
    @property
    def config(self) -> Config: ...


class Metrics:
    """One gateway's metrics registry; `observe` is a `BatchWriter` observer."""

    def __init__(self, sources: Sources, *, max_label_values: int = 100) -> None:
        self.sources = sources
        self.registry = CollectorRegistry()
        # Values a caller (or a direct `provider/model` request) can choose are capped.
        self.models = LabelCap(max_label_values)
        self.deployments = LabelCap(max_label_values)
        self.providers = LabelCap(max_label_values)
        self.features = LabelCap(max_label_values)
        self.endpoints = LabelCap(max_label_values)
        self.names = LabelCap(max_label_values)  # stages, guard rules, event kinds
        self._admission: Admission | None = None
        self._failures_before = 0
        self._define()
        self.registry.register(StateCollector(sources, self.deployments, self.limits_failures))

    def _define(self) -> None:
        request_labels = ["model", "deployment", "provider", "feature", "status", "api"]
        self.requests = self._counter(
            "proctor_requests",
            "Finished requests.",
            [*request_labels, "operation"],
        )
        self.errors = self._counter(
            "proctor_errors",
            "Requests that ended in an error (error_type is the HTTP status).",
            ["model", "provider", "api", "operation", "error_type"],
        )
        self.duration = self._histogram(
            "gen_ai_client_operation_duration_seconds",
            "GenAI operation duration, from the request's arrival to its last byte.",
            [*GEN_AI, "error_type"],
            buckets=DURATION_BUCKETS,
        )
        self.ttft = self._histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time to the first token of a successful chat reply (non-streamed: the whole reply).",
            [*GEN_AI, "stream"],
            buckets=TTFT_BUCKETS,
        )
        self.tokens = self._histogram(
            "gen_ai_client_token_usage",
            "Input and output tokens per request, as the provider reported them.",
            [*GEN_AI, "gen_ai_token_type"],
            buckets=TOKEN_BUCKETS,
        )
        self._define_counters()

    def _define_counters(self) -> None:
        self.cached_tokens = self._counter(
            "proctor_cached_tokens",
            "Input tokens served from the provider's prompt cache.",
            ["model", "provider"],
        )
        self.reasoning_tokens = self._counter(
            "proctor_reasoning_tokens",
            "Output tokens spent on reasoning.",
            ["model", "provider"],
        )
        self.cost = self._counter(
            "proctor_cost_usd",
            "Cost of the requests in US dollars, from the pricing table.",
            ["model", "deployment", "feature", "endpoint"],
        )
        self.unpriced = self._counter(
            "proctor_unpriced_requests",
            "Requests with usage but no price for the model that served them.",
            ["model"],
        )
        self.stages = self._histogram(
            "proctor_stage_duration_seconds",
            "Time spent in each pipeline stage, excluding the stages inside it.",
            ["stage"],
            buckets=STAGE_BUCKETS,
        )
        self.attempts = self._counter(
            "proctor_attempts",
            "Calls to deployments (outcome: ok, error, skipped, cancelled, unfinished).",
            ["deployment", "provider", "outcome", "status"],
        )
        self.fallbacks = self._counter(
            "proctor_fallbacks",
            "Requests answered by another deployment than the first one tried.",
            ["model", "deployment"],
        )
        self.findings = self._counter(
            "proctor_guard_findings",
            "Findings of the guard stages, by rule and action.",
            ["stage", "rule", "action"],
        )
        self.cache = self._counter(
            "proctor_cache_requests",
            "Successful requests by cache result (miss, exact, semantic).",
            ["model", "cache"],
        )
        self.events = self._counter(
            "proctor_events", "Operational events emitted, by kind.", ["kind"]
        )

    def _counter(self, name: str, documentation: str, labels: list[str]) -> CounterVec:
        counter = CounterVec(name, documentation, labels)
        self.registry.register(counter)
        return counter

    def _histogram(
        self, name: str, documentation: str, labels: list[str], buckets: Sequence[float]
    ) -> HistogramVec:
        histogram = HistogramVec(name, documentation, labels, buckets)
        self.registry.register(histogram)
        return histogram

    # -- live state -------------------------------------------------------------------------

    def watch_admission(self, admission: Admission) -> None:
        """Count the backend failures of this configuration's admission (after a reload)."""
        if self._admission is not None and self._admission is not admission:
            self._failures_before += self._admission.failures
        self._admission = admission

    def limits_failures(self) -> int:
        current = self._admission.failures if self._admission is not None else 0
        return self._failures_before + current

    def count_event(self, kind: str) -> None:
        self.events.inc((self.names(kind),))

    # -- finished requests ------------------------------------------------------------------

    def observe(self, contexts: Sequence[Context]) -> None:
        """The writer observer: fold a batch of finished requests into the metrics."""
        if not contexts:
            return
        known = self._known_models()
        for ctx in contexts:
            self._observe(ctx, known)

    def _known_models(self) -> Container[str]:
        try:
            return self.sources.config.models
        except RuntimeError:  # not started
            return ()

    def _observe(self, ctx: Context, known: Container[str]) -> None:
        model = ctx.public_model or getattr(ctx.request, "model", "")
        if model not in known:
            model = self.models(model)
        provider = self.providers(ctx.provider)
        deployment = self.deployments(ctx.deployment)
        feature = self.features(ctx.tags.feature)
        operation, api = ctx.operation, ctx.api
        status = str(ctx.status)
        error_type = status if ctx.status >= 400 else ""
        self.requests.inc((model, deployment, provider, feature, status, api, operation))
        self.duration.observe((operation, model, provider, error_type), ctx.latency_ms / 1e3)
        if error_type:
            self.errors.inc((model, provider, api, operation, error_type))
        else:
            if ctx.ttft_ms is not None and operation == "chat":
                stream = "true" if ctx.stream else "false"
                self.ttft.observe((operation, model, provider, stream), ctx.ttft_ms / 1e3)
            cache = ctx.response_headers.get("x-proctor-cache", "miss")
            self.cache.inc((model, cache if cache in CACHE_RESULTS else OTHER))
        if ctx.usage is not None:
            self._usage(ctx, model, provider, deployment, feature)
        names = self.names
        for stage, ms in ctx.stage_timings_ms().items():
            self.stages.observe((names(stage),), ms / 1e3)
        if ctx.attempts:
            self._attempts(ctx, model)
        for finding in ctx.findings:
            self.findings.inc((names(finding.stage), names(finding.rule), names(finding.action)))

    def _usage(
        self, ctx: Context, model: str, provider: str, deployment: str, feature: str
    ) -> None:
        usage = ctx.usage
        assert usage is not None
        operation = ctx.operation
        self.tokens.observe((operation, model, provider, "input"), usage.prompt_tokens)
        if operation == "chat":
            self.tokens.observe((operation, model, provider, "output"), usage.completion_tokens)
        if usage.cached_tokens:
            self.cached_tokens.inc((model, provider), usage.cached_tokens)
        if usage.reasoning_tokens:
            self.reasoning_tokens.inc((model, provider), usage.reasoning_tokens)
        if ctx.cost_usd is not None:
            endpoint = self.endpoints(ctx.tags.endpoint)
            self.cost.inc((model, deployment, feature, endpoint), ctx.cost_usd)
        elif ctx.provider not in (None, "proctor"):
            # The pricer found no price (it logs and emits the first one of each model).
            self.unpriced.inc((self.models(ctx.served_model or ctx.deployment_model),))

    def _attempts(self, ctx: Context, model: str) -> None:
        attempts = ctx.attempts
        for attempt in attempts:
            key = (
                self.deployments(attempt.deployment),
                self.providers(attempt.provider),
                _outcome(attempt),
                str(attempt.status),
            )
            self.attempts.inc(key)
        if ctx.deployment and attempts[0].deployment != ctx.deployment:
            self.fallbacks.inc((model, self.deployments(ctx.deployment)))


def _outcome(attempt: Attempt) -> str:
    if attempt.status == 200:
        return "ok"
    error = attempt.error or ""
    if error.startswith("skipped"):
        return "skipped"
    if error == "cancelled":
        return "cancelled"
    return "error" if attempt.status or error else "unfinished"
