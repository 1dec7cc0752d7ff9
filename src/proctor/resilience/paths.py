"""Live checks of the failover paths: scheduled drills and active health probes.

A drill sends one tiny request (max_tokens 1) straight to every deployment of every chain,
in chain order, bypassing breakers and retries, so a broken fallback is found before the
outage that needs it. A probe does the same for one deployment on a timer and feeds the
outcome to its breaker, so an open breaker can close without risking user traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import msgspec

from proctor.context import ChatStream, Context
from proctor.errors import ProctorError
from proctor.resilience.executor import Executor
from proctor.resilience.steps import Step
from proctor.wire.types import ChatRequest, Message

log = logging.getLogger("proctor.resilience")


class PathResult(msgspec.Struct, frozen=True):
    model: str
    position: int  # 0 = primary deployment, then fallbacks in chain order
    deployment: str
    ok: bool
    latency_ms: float
    served_model: str | None = None
    error: str | None = None


class DrillReport(msgspec.Struct, frozen=True):
    at: float
    results: list[PathResult]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


@dataclass(frozen=True, slots=True)
class Path:
    model: str
    position: int
    step: Step


async def check_path(executor: Executor, path: Path, max_tokens: int) -> PathResult:
    """One tiny real request to one deployment; never raises."""
    request = ChatRequest(
        model=path.model,
        messages=[Message(role="user", content="Reply with OK.")],
        max_tokens=max_tokens,
    )
    ctx = Context(request=request)
    start = time.perf_counter()
    deadline = time.monotonic() + path.step.model.deadline_s
    try:
        reply = await executor.attempt(ctx, path.step, deadline)
        if isinstance(reply, ChatStream):  # not requested, but drain defensively
            async for _ in reply:
                pass
    except ProctorError as exc:
        return PathResult(
            path.model,
            path.position,
            path.step.deployment.name,
            ok=False,
            latency_ms=(time.perf_counter() - start) * 1000,
            error=exc.message,
        )
    served = getattr(reply, "model", None)
    return PathResult(
        path.model,
        path.position,
        path.step.deployment.name,
        ok=True,
        latency_ms=(time.perf_counter() - start) * 1000,
        served_model=served,
    )


def chain_paths(chains: dict[str, list[Step]]) -> list[Path]:
    return [
        Path(model, position, step)
        for model, steps in chains.items()
        for position, step in enumerate(steps)
    ]


async def probe(executor: Executor, step: Step) -> PathResult | None:
    """A health probe, when the breaker lets one through; its outcome feeds the breaker."""
    if not executor.breakers.allow(step.deployment.name, step.model.breaker):
        return None
    return await check_path(executor, Path(step.deployment.public_model, 0, step), 1)


async def drill(executor: Executor, paths: Iterable[Path], max_tokens: int = 1) -> DrillReport:
    results = await asyncio.gather(*(check_path(executor, p, max_tokens) for p in paths))
    return DrillReport(at=time.time(), results=list(results))


class Scheduler:
    """Runs a coroutine factory every `every_s` seconds until stopped; failures are logged."""

    def __init__(self, name: str, every_s: float, job: Callable[[], object]) -> None:
        self.name = name
        self.every_s = every_s
        self.job = job
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"proctor-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                result = self.job()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("scheduled %s failed", self.name)
