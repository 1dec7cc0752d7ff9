"""Orchestration: start the processes, run the phases, reduce rounds to medians.

Overhead is measured in one run against one upstream: every cell (stream or not, at each
concurrency) runs a direct phase and a gateway phase back to back, in alternating order from
round to round so that drift on a shared machine hits both paths alike. The added latency of
a round is the gateway percentile minus the direct percentile; the report gives the median
over rounds of each figure.

With `--compare-metering` three gateways run side by side on the gateway's CPU (metering
off, in memory, in Redis), only one of them under load at a time; each round runs the direct
phase and the three gateway phases back to back, the order rotating from round to round.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import msgspec

from proctor.bench import metering as metering_mod
from proctor.bench.gateway import MODEL, UPSTREAM_MODEL, openai_adapter_available
from proctor.bench.load import PhaseResult, PhaseSpec
from proctor.bench.metering import DEFAULT_REDIS_URL, Metering, MeteringCheck
from proctor.bench.procs import Child, ChildFailed, Placement, pin_self, placement
from proctor.bench.results import (
    Cell,
    Machine,
    Report,
    Section,
    Throughput,
    reduce_cell,
    reduce_throughput,
    versus,
)

__all__ = ["Bench", "Cell", "Machine", "Options", "Report", "Throughput", "run", "started"]

# (phase number, phases in all, fraction of this phase done, label)
Progress = Callable[[int, int, float, str], None]
Pairs = dict[tuple[bool, int], list[tuple[PhaseResult, PhaseResult]]]


@dataclass(frozen=True)
class Options:
    requests: int = 2000
    concurrency: tuple[int, ...] = (1, 32)
    rounds: int = 3
    warmup: int = 200
    streaming: tuple[bool, ...] = (False, True)
    duration_s: float = 4.0  # each throughput phase
    throughput_concurrency: int = 64
    throughput_rounds: int = 2
    pin: bool = True
    upstream_delay_ms: float = 0.0
    # One gateway per mode; the first is the one `Report.cells` describes.
    metering: tuple[Metering, ...] = ("off",)
    redis_url: str = DEFAULT_REDIS_URL


class Bench:
    """The running processes: upstream, one gateway per metering mode, load generator."""

    def __init__(
        self,
        upstream: Child,
        gateways: dict[str, Child],
        load: Child,
        provider: str,
        secret: str | None,
    ) -> None:
        self.upstream, self.gateways, self.load = upstream, gateways, load
        self.provider = provider
        self.secret = secret
        self.checks = {mode: MeteringCheck(mode) for mode in gateways}
        self.redis: str | None = None  # description; set when a gateway meters in Redis
        self.redis_url = ""
        self._redis_cpu_s = 0.0
        self._redis_served = 0

    @property
    def direct_url(self) -> str:
        return f"http://127.0.0.1:{self.upstream.port}/v1/chat/completions"

    @property
    def gateway_url(self) -> str:
        """The first gateway's URL (the only one unless metering is compared)."""
        return self.url(next(iter(self.gateways)))

    def url(self, path: str) -> str:
        child = self.upstream if path == "direct" else self.gateways[path]
        return f"http://127.0.0.1:{child.port}/v1/chat/completions"

    def spec(
        self,
        path: str,
        stream: bool,
        concurrency: int,
        *,
        requests: int = 0,
        duration_s: float = 0.0,
        warmup: int = 0,
        stagger_s: float = 0.0,
    ) -> PhaseSpec:
        metered = path not in ("direct", "off")
        return PhaseSpec(
            url=self.url(path),
            model=UPSTREAM_MODEL if path == "direct" else MODEL,
            stream=stream,
            concurrency=concurrency,
            headers={"authorization": f"Bearer {self.secret}"} if metered else {},
            user=metering_mod.BENCH_USER if metered else None,
            requests=requests,
            duration_s=duration_s,
            warmup=warmup,
            stagger_s=stagger_s,
        )

    def label(self, path: str) -> str:
        if path == "direct":
            return "direct "
        return "gateway" if len(self.gateways) == 1 else f"gw {path}"

    def run(self, spec: PhaseSpec, on_progress: Callable[[float], None]) -> PhaseResult:
        mode = next((m for m in self.gateways if self.url(m) == spec.url), None)
        server = self.upstream if mode is None else self.gateways[mode]
        redis_before = self._redis_cpu() if mode == "redis" else 0.0
        cpu_before = server.cpu_seconds()
        wall_before = time.perf_counter()
        self.load.send(msgspec.json.encode(spec))
        timeout = 120 + spec.duration_s
        while True:
            message = msgspec.json.decode(self.load.recv(timeout))
            if "progress" in message:
                on_progress(min(1.0, float(message["progress"])))
                continue
            result = msgspec.convert(message["result"], PhaseResult)
            if result.completed == 0:
                raise ChildFailed(f"no request succeeded against {spec.url}: {result.first_error}")
            served = spec.warmup + result.completed + result.errors
            cpu = server.cpu_seconds() - cpu_before
            result.server_cpu_us = cpu / served * 1e6
            result.server_cpu_share = cpu / max(1e-9, time.perf_counter() - wall_before)
            if mode is not None:
                self._count(self.checks[mode], result)
            if mode == "redis":
                self._redis_cpu_s += self._redis_cpu() - redis_before
                self._redis_served += served
            return result

    def _redis_cpu(self) -> float:
        return metering_mod.redis_cpu_seconds(self.redis_url)

    def finish(self) -> None:
        """Before the gateways stop: counter failures from their logs, Redis CPU."""
        for mode, check in self.checks.items():
            log_text = self.gateways[mode].stderr_tail(size=1 << 24)
            check.backend_failures = metering_mod.backend_failures(log_text)
        if "redis" in self.checks and self._redis_served:
            self.checks["redis"].redis_cpu_us = self._redis_cpu_s / self._redis_served * 1e6

    @staticmethod
    def _count(check: MeteringCheck, result: PhaseResult) -> None:
        check.ok += result.completed
        check.non_stream_ok += 0 if result.spec.stream else result.completed
        check.with_cost += result.with_cost
        check.with_ratelimit += result.with_ratelimit


def _gateway_args(
    upstream: Child, provider: str, db: str, mode: Metering, redis: tuple[str, str]
) -> list[str]:
    args = ["proctor.bench.gateway", "--provider", provider, "--db", db, "--metering", mode]
    args += ["--upstream", f"http://127.0.0.1:{upstream.port}/v1"]
    return args + (["--redis-url", redis[0], "--redis-prefix", redis[1]] if mode == "redis" else [])


@contextmanager
def started(options: Options) -> Iterator[tuple[Bench, Placement]]:
    """Start everything; on the way out stop it, delete the run's Redis keys and read the
    request logs into `bench.checks` (the gateways drain their logs when they stop)."""
    where = placement(options.pin)
    pin_self(where.load)
    provider = "openai" if openai_adapter_available() else "sim"
    redis_info = None
    if "redis" in options.metering:
        redis_info = metering_mod.redis_description(options.redis_url)
    prefix = metering_mod.new_prefix()
    children: list[Child] = []
    with tempfile.TemporaryDirectory(prefix="proctor-bench-") as tmp:
        dbs: dict[str, str] = {m: os.path.join(tmp, f"bench-{m}.db") for m in options.metering}
        metered = [dbs[m] for m in options.metering if m != "off"]
        secret = metering_mod.create_key(metered) if metered else None
        try:
            upstream = Child(
                "upstream",
                ["proctor.bench.upstream", "--delay-ms", str(options.upstream_delay_ms)],
                where.upstream,
            )
            children.append(upstream)
            upstream.wait_ready()
            gateways: dict[str, Child] = {}
            for mode in options.metering:
                redis = (options.redis_url, prefix)
                args = _gateway_args(upstream, provider, dbs[mode], mode, redis)
                gateways[mode] = Child(f"gateway ({mode})", args, where.gateway)
                children.append(gateways[mode])
            load = Child("load generator", ["proctor.bench.load"], where.load)
            children.append(load)
            for child in gateways.values():
                child.wait_ready()
            load.wait_ready()
            bench = Bench(upstream, gateways, load, provider, secret)
            bench.redis, bench.redis_url = redis_info, options.redis_url
            yield bench, where
            bench.finish()
        finally:
            for child in reversed(children):  # all at once: the gateways drain in parallel
                child.request_stop()
            for child in reversed(children):
                child.stop()
            keys = None
            if redis_info is not None:
                keys = metering_mod.delete_prefix(options.redis_url, prefix)
        if "redis" in bench.checks:
            bench.checks["redis"].redis_keys = keys
        for name, check in bench.checks.items():
            check.logged, check.logged_with_cost = metering_mod.logged_costs(dbs[name])


def machine_info(bench: Bench, where: Placement, load_before: float) -> Machine:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    upstream = "fast local upstream (proctor.bench.upstream)"
    provider = bench.provider
    return Machine(
        date=dt.date.today().isoformat(),
        cpus=os.cpu_count() or 0,
        cpu_model=model,
        python=f"{platform.python_implementation()} {platform.python_version()}",
        platform=platform.platform(),
        placement=where.describe(),
        provider=f"{provider} adapter -> {upstream}"
        if provider == "openai"
        else "sim (in-process; the OpenAI adapter is not available)",
        request_log="on: SQLite file (WAL), batched writer, default flush settings",
        load_before=load_before,
        load_after=_load(),
        redis=bench.redis,
    )


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def _order(paths: list[str], round_no: int) -> list[str]:
    """Rotate the order each round; with two paths, direct-gateway then gateway-direct."""
    shift = round_no % len(paths)
    return paths[shift:] + paths[:shift]


def _phase(
    bench: Bench, spec: PhaseSpec, progress: Progress, where: tuple[int, int, str]
) -> PhaseResult:
    done, total, label = where
    return bench.run(spec, lambda fraction: progress(done, total, fraction, label))


def overhead_cells(bench: Bench, options: Options, progress: Progress) -> dict[str, list[Cell]]:
    """Per metering mode, the cells of the latency table."""
    combos = [(s, c) for s in options.streaming for c in options.concurrency]
    paths = ["direct", *options.metering]
    total = len(combos) * options.rounds * len(paths)
    done = 0
    pairs: dict[str, Pairs] = {m: {k: [] for k in combos} for m in options.metering}
    for round_no in range(options.rounds):
        for stream, concurrency in combos:
            results: dict[str, PhaseResult] = {}
            for path in _order(paths, round_no):
                spec = bench.spec(
                    path,
                    stream,
                    concurrency,
                    requests=max(options.requests, concurrency),
                    warmup=max(options.warmup, 2 * concurrency),
                    stagger_s=options.upstream_delay_ms / 1000,
                )
                kind = "stream" if stream else "whole "
                label = f"round {round_no + 1}/{options.rounds}: {bench.label(path)} {kind} "
                label += f"c={concurrency}"
                results[path] = _phase(bench, spec, progress, (done, total, label))
                done += 1
                progress(done, total, 0.0, label)
            for mode in options.metering:
                pairs[mode][(stream, concurrency)].append((results["direct"], results[mode]))
    return {m: [reduce_cell(s, c, pairs[m][(s, c)]) for s, c in combos] for m in options.metering}


def throughput(bench: Bench, options: Options, progress: Progress) -> dict[str, Throughput]:
    """Per metering mode, the max req/s of its gateway (non-stream, closed loop)."""
    paths = ["direct", *options.metering]
    total = options.throughput_rounds * len(paths)
    results: dict[str, list[PhaseResult]] = {p: [] for p in paths}
    done = 0
    for round_no in range(options.throughput_rounds):
        for path in _order(paths, round_no):
            spec = bench.spec(
                path,
                False,
                options.throughput_concurrency,
                duration_s=options.duration_s,
                warmup=4 * options.throughput_concurrency,
                stagger_s=options.upstream_delay_ms / 1000,
            )
            label = f"throughput {round_no + 1}/{options.throughput_rounds}: {bench.label(path)}"
            label += f" whole  c={options.throughput_concurrency}"
            results[path].append(_phase(bench, spec, progress, (done, total, label)))
            done += 1
            progress(done, total, 0.0, label)
    direct = results["direct"]
    return {
        m: reduce_throughput(options.throughput_concurrency, options.duration_s, direct, results[m])
        for m in options.metering
    }


def command_line() -> str:
    args = sys.argv[1:]
    return " ".join(["proctor", *args]) if args else "proctor bench"


def run(options: Options, progress: Progress, *, latency: bool, capacity: bool) -> Report:
    load_before = _load()
    with started(options) as (bench, where):
        cells = overhead_cells(bench, options, progress) if latency else {}
        capacity_result = throughput(bench, options, progress) if capacity else {}
        machine = machine_info(bench, where, load_before)
    first, *others = options.metering
    base_cells, base_tp = cells.get(first, []), capacity_result.get(first)
    sections = []
    for mode in others:
        section = Section(
            metering=mode,
            cells=cells.get(mode, []),
            throughput=capacity_result.get(mode),
            check=bench.checks[mode],
            versus_off=[],
        )
        section.versus_off = versus(base_cells, base_tp, section)
        sections.append(section)
    return Report(
        command=command_line(),
        machine=machine,
        rounds=options.rounds,
        upstream_delay_ms=options.upstream_delay_ms,
        cells=base_cells,
        throughput=base_tp,
        metering=first,
        check=bench.checks[first],
        compare=sections,
    )
