"""The Gateway: the composition root. It builds the pipeline from config and runs requests.

The whole request path is one list, outermost first (DESIGN.md numbers the stages). It is an
onion: a stage's work before `call_next` runs top to bottom, its work after it bottom to top,
so the stages that settle what the call produced sit outside the call:

    1 identify   who is calling, tags for attribution
    9 settle     after the call: usage, served model, time to first token (streams too)
    2 admit      backpressure: shed load beyond the in-flight limit
    3 guard_in   input guards; placeholders restored in the reply on the way back
    8 guard_out  output guards around the call (streams: a sliding window)
    5 route      public model -> ordered deployments (weights, fallbacks)
    7 call       provider adapters, failing over in the routed order

Stages 4 and 6 (prompts, cache) slot in between admit and call as their capabilities land;
a stage with nothing to do under the current config is left out of the fold entirely, so
it costs nothing.

A configuration becomes an immutable `Runtime` (providers + folded pipeline). Hot reload
swaps the runtime reference; requests in flight finish on the runtime they started with.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import msgspec

from proctor import config as config_mod
from proctor import pipeline, providers
from proctor.alerts import AlertEngine
from proctor.config import Config, ConfigError, SimProviderConfig
from proctor.context import ChatStream, Context, Reply
from proctor.cost.pricing import PriceTable
from proctor.cost.tokenizer import preload as preload_tokenizers
from proctor.errors import ProctorError
from proctor.feedback import FeedbackService
from proctor.guards.anomaly import AnomalyBreaker, anomaly_config
from proctor.guards.policy import GuardPolicy
from proctor.guards.review.queue import ReviewQueue, review_config
from proctor.keys.keyring import Keyring, KeyringRefresher
from proctor.limits.admission import Admission
from proctor.limits.backends import open_counter
from proctor.limits.policy import Policy
from proctor.providers.base import Provider
from proctor.resilience.balance import Balancer
from proctor.resilience.breaker import MemoryBreakers
from proctor.resilience.executor import Executor
from proctor.resilience.paths import DrillReport, Scheduler, chain_paths, drill, probe
from proctor.resilience.pins import PinWatch
from proctor.stages.admit import Admit, CostBook, Inflight, estimate_tokens
from proctor.stages.call import Call
from proctor.stages.guard_in import GuardIn
from proctor.stages.guard_out import GuardOut
from proctor.stages.identify import Identify
from proctor.stages.route import Route, plans_from
from proctor.stages.settle import Pricer, Settle
from proctor.store.base import Store, open_store
from proctor.store.records import EventRecord
from proctor.store.writer import BatchWriter
from proctor.telemetry.metrics import Metrics
from proctor.telemetry.tracing import Tracer
from proctor.topics.service import TopicService
from proctor.wire.openai import (
    RequestLimits,
    check_chat_request,
    parse_chat_request,
    parse_embedding_request,
)
from proctor.wire.types import ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse

log = logging.getLogger("proctor")


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything derived from one configuration."""

    config: Config
    providers: Mapping[str, Provider]
    route: Route
    executor: Executor
    handle: pipeline.Next
    limits: RequestLimits


class Gateway:
    """An LLM gateway, in-process or behind the HTTP server.

    >>> async with Gateway() as gateway:
    ...     reply = await gateway.chat({"model": "sim-small", "messages": [...]})
    """

    def __init__(self, config: Config | None = None, *, store: Store | None = None) -> None:
        self._initial = config if config is not None else config_mod.default_config()
        self._providers: dict[tuple[str, bytes], Provider] = {}
        self.inflight = Inflight(self._initial.server.max_inflight)
        self.counter = open_counter(self._initial.redis)
        self.keyring = Keyring()
        self._rng = random.Random()
        # Health and load knowledge outlives config reloads.
        self.breakers = MemoryBreakers()
        self.balancer = Balancer(self._rng)
        self.pins = PinWatch(self.emit)
        self._runtime: Runtime | None = None
        self.store = store if store is not None else open_store(self._initial.store.url)
        store_config = self._initial.store
        self.writer = BatchWriter(
            self.store,
            flush_interval_s=store_config.flush_interval_ms / 1000,
            batch_size=store_config.batch_size,
            max_buffered=store_config.queue_size,
        )
        self.alerts = AlertEngine(self._initial.alerts, emit=self.emit)
        self.writer.observers.append(self.alerts.observe)
        self.metrics = Metrics(self)
        self.writer.observers.append(self.metrics.observe)
        self.tracer = Tracer(self.store)  # trace spans, built after each request
        self.writer.observers.append(self.tracer.observe)
        self.feedback = FeedbackService(self.store, self.writer, self._initial.feedback)
        self.topics = TopicService(self.store, self._initial.topics)  # query topics
        self.writer.observers.append(self.topics.observe)
        # Replaced providers and how long their slowest in-flight call may still take.
        self._retired: list[tuple[Provider, float]] = []
        self._background: set[asyncio.Future[None]] = set()
        self._settling: set[asyncio.Task[None]] = set()
        self._jobs: list[Scheduler] = []
        self.refresher = KeyringRefresher(self.store, self.keyring, self._initial.keys.refresh_s)
        # Human review and the guard anomaly breaker: their state outlives config reloads.
        self.review = ReviewQueue(self.store, review_config(self._initial.guards), emit=self.emit)
        self.anomaly = AnomalyBreaker(anomaly_config(self._initial.guards), emit=self.emit)
        self.last_drill: DrillReport | None = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            raise RuntimeError("the gateway is not started; use `async with Gateway(...)`")
        return self._runtime

    @property
    def config(self) -> Config:
        return self.runtime.config

    async def start(self) -> None:
        await self.store.open()
        await self.feedback.start()
        self.writer.start()
        await self.topics.start()
        self.alerts.start()
        await self.refresher.start()
        await self.review.start()
        self._runtime = await self._build(self._initial)
        self._restart_jobs()

    async def close(self) -> None:
        """Drain the request log and close every provider connection."""
        for job in self._jobs:
            await job.stop()
        await self.refresher.stop()
        await self.review.stop()  # held requests get their default decision
        if self._settling:  # budget settlements of the last requests
            await asyncio.gather(*self._settling, return_exceptions=True)
        await self.counter.close()
        await self.alerts.close()
        await self.writer.close()
        await self.topics.close()
        await self.tracer.close()
        await self.store.close()
        for provider in [*self._providers.values(), *(p for p, _ in self._retired)]:
            await provider.close()
        self._providers.clear()

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _build(self, config: Config) -> Runtime:
        # Loading a vocabulary takes ~0.5 s: do it now, off the loop, not on a request.
        models = [d.model for m in config.models.values() for d in m.deployments]
        await asyncio.to_thread(preload_tokenizers, models)
        live, keep = await self._providers_for(config)
        # Providers no longer configured are closed later, once in-flight calls are done.
        self._retired.extend(
            (p, self.runtime.config.providers[k[0]].timeout_s)
            for k, p in self._providers.items()
            if k not in keep
        )
        self._providers = keep
        self.inflight.limit = config.server.max_inflight
        self.tracer.configure(config)
        self.refresher.interval_s = config.keys.refresh_s
        self.review.configure(review_config(config.guards))
        self.anomaly.configure(anomaly_config(config.guards))
        server = config.server
        route = Route(plans_from(config), frozenset(config.providers), self.balancer)
        executor = Executor(live, self.breakers, self.balancer, self.pins, rng=self._rng)
        sims = frozenset(n for n, p in config.providers.items() if isinstance(p, SimProviderConfig))
        pricer = Pricer(PriceTable.load(config.pricing), sims, self.emit)
        admit = Admit(
            self.inflight,
            Admission(self.counter, self.emit, fail_closed=config.redis.fail_closed),
            Policy(config.budgets, config.limits),  # the counter adds redis.prefix
            CostBook(route, pricer),
            estimate_tokens,
            config.keys.default_max_tokens,
            self._settling,
        )
        self.metrics.watch_admission(admit.admission)
        stages: list[pipeline.Stage] = [
            Identify(frozenset(server.open_hosts), self.keyring),
            Settle(pricer),
            admit,
            *self._guards(config),
            route,
            Call(executor),
        ]
        return Runtime(
            config=config,
            providers=live,
            route=route,
            executor=executor,
            handle=pipeline.build(stages),
            limits=RequestLimits(
                max_output_tokens=server.max_output_tokens,
                max_messages=server.max_messages,
            ),
        )

    def _guards(self, config: Config) -> list[pipeline.Stage]:
        """guard_in and guard_out, each only when the `guards` config gives it work; the
        policy is compiled here, once per configuration."""
        policy = GuardPolicy(config.guards)
        policy.warm_up()
        stages: list[pipeline.Stage] = []
        if policy.needs_input or self.anomaly.config.enabled:
            stages.append(GuardIn(policy, self.review, self.anomaly))
        if policy.needs_output:
            stages.append(GuardOut(policy, config.guards.stream, self.review))
        return stages

    async def _providers_for(
        self, config: Config
    ) -> tuple[dict[str, Provider], dict[tuple[str, bytes], Provider]]:
        """The adapters for `config`: unchanged ones reused, new ones created and started.

        If an adapter refuses its settings nothing changes: the ones created here are closed
        and a ConfigError says which provider and why, so a bad edit keeps the old config.
        """
        live: dict[str, Provider] = {}
        keep: dict[tuple[str, bytes], Provider] = {}
        created: list[Provider] = []
        try:
            for name, provider_config in config.providers.items():
                key = (name, msgspec.json.encode(provider_config))
                provider = self._providers.get(key)
                if provider is None:
                    provider = providers.create(name, provider_config)
                    created.append(provider)
                    await provider.start()
                live[name] = keep[key] = provider
        except Exception as exc:
            for provider in created:
                await provider.close()
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"`$.providers`: {type(exc).__name__}: {exc}") from exc
        return live, keep

    async def reload(self, config: Config) -> None:
        """Apply a new configuration to the next request; in-flight ones are untouched."""
        self._runtime = await self._build(config)
        await self.alerts.reload(config.alerts)
        self._restart_jobs()
        retired, self._retired = self._retired, []
        if retired:
            grace = max(timeout for _, timeout in retired) + 5
            asyncio.get_running_loop().call_later(grace, self._close_retired, retired)
        log.info("configuration applied")

    def _restart_jobs(self) -> None:
        """(Re)start scheduled drills and health probes for the current config."""
        for job in self._jobs:
            task = asyncio.ensure_future(job.stop())
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        runtime = self.runtime
        self._jobs = []
        every = runtime.config.drills.every_s
        if every is not None:
            self._jobs.append(Scheduler("drill", every, self.drill))
        for steps in runtime.route.chains().values():
            for step in steps:
                interval = step.deployment.probe_every_s
                if interval is not None:
                    check = partial(probe, runtime.executor, step)
                    self._jobs.append(Scheduler(f"probe {step.deployment.name}", interval, check))
        for job in self._jobs:
            job.start()

    async def drill(self) -> DrillReport:
        """Send one tiny request down every path of every chain; keep and record the result."""
        runtime = self.runtime
        paths = chain_paths(runtime.route.chains())
        report = await drill(runtime.executor, paths, runtime.config.drills.max_tokens)
        self.last_drill = report
        self.emit(
            "drill" if report.ok else "drill_failed",
            "failover paths",
            {"ok": report.ok, "results": msgspec.to_builtins(report.results)},
        )
        return report

    def _close_retired(self, retired: list[tuple[Provider, float]]) -> None:
        for provider, _ in retired:
            task = asyncio.ensure_future(provider.close())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def run(self, ctx: Context) -> Reply:
        """Run one request through the pipeline; the record is written when it finishes."""
        self.feedback.stamp(ctx, self.runtime.config)
        ctx.on_finish.append(lambda: self.writer.submit(ctx))
        try:
            reply = await self.runtime.handle(ctx)
        except ProctorError as exc:
            ctx.status, ctx.error = exc.status, exc.message
            ctx.finish()
            raise
        except BaseException as exc:
            ctx.status, ctx.error = 500, f"internal error: {type(exc).__name__}"
            ctx.finish()
            raise
        if isinstance(reply, ChatStream):
            return ChatStream(_finish_after(ctx, reply))
        ctx.finish()
        return reply

    def emit(self, kind: str, subject: str, detail: dict[str, Any]) -> None:
        """Record an operational event (alert sinks read these); never blocks."""
        log.warning("event %s on %s: %s", kind, subject, detail)
        self.metrics.count_event(kind)
        self.writer.submit(EventRecord.create(kind, subject, detail))
        self.alerts.on_event(kind, subject, detail)

    def record_rejected(self, ctx: Context, error: ProctorError) -> None:
        """Log a request that was refused before it reached the pipeline (bad input)."""
        ctx.status, ctx.error = error.status, error.message
        ctx.on_finish.append(lambda: self.writer.submit(ctx))
        ctx.finish()

    async def chat(
        self, request: ChatRequest | Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> ChatResponse | ChatStream:
        """The in-process API: an OpenAI-shaped request in, a response or chunk stream out."""
        if isinstance(request, ChatRequest):
            check_chat_request(request, self.runtime.limits)
            parsed = request
        else:
            parsed = parse_chat_request(msgspec.json.encode(request), self.runtime.limits)
        ctx = Context(request=parsed, headers={k.lower(): v for k, v in (headers or {}).items()})
        reply = await self.run(ctx)
        assert isinstance(reply, ChatResponse | ChatStream)
        return reply

    async def embed(self, request: EmbeddingRequest | Mapping[str, Any]) -> EmbeddingResponse:
        if isinstance(request, EmbeddingRequest):
            parsed = request
        else:
            parsed = parse_embedding_request(msgspec.json.encode(request))
        reply = await self.run(Context(request=parsed))
        assert isinstance(reply, EmbeddingResponse)
        return reply


async def _finish_after(ctx: Context, stream: ChatStream) -> AsyncIterator[Any]:
    try:
        async for chunk in stream:
            yield chunk
    except ProctorError as exc:
        ctx.status, ctx.error = exc.status, exc.message
        raise
    except BaseException as exc:
        if ctx.error is None:
            ctx.status = 499 if isinstance(exc, asyncio.CancelledError | GeneratorExit) else 500
            ctx.error = f"stream ended early: {type(exc).__name__}"
        raise
    finally:
        ctx.finish()
