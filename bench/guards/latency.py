"""Latency the guard stages add to a request, guards on against guards off in the same run.

    .venv/bin/python bench/guards/latency.py [--requests 2000] [--rounds 5] [--chars 1000]

An in-process `proctor.Gateway` answers with the simulator (no network, no delay: what is
measured is proctor's own time), the request log on (SQLite in a temporary directory). Every
request carries one user message of `--chars` characters built from the benign prompts in
/work/shared/data/benign, with an e-mail address and a phone number in it (so redaction
runs and placeholders are restored), a different one each time (the guards remember the long
texts they have seen, for conversation histories), and the simulator's reply is longer.

Configurations, run in alternating batches within each round so that machine noise falls on
all of them alike:
- `off`: `guards: {enabled: false}` (no guard stage in the pipeline);
- `default`: no `guards` section (injection flag, PII placeholders, secrets block, invisible
  strip; output toxicity and leak flag);
- `default+optional`: the default plus the rules a config may add (language, banned topics,
  output PII and secrets), the heavier ones.

Two measures per configuration, whole replies and streams:
- *guard time*: guard_in + guard_out exclusive stage time, per request, from the request's
  own stage timings (the stages' work, nothing else); for streams the output scanning happens
  while the chunks pass, so streams report only the end-to-end difference;
- *end-to-end*: `Gateway.run` plus reading the whole reply; *added* is the percentile minus
  the `off` percentile of the same round, median over rounds;
- *CPU per request*: the process's CPU time over each batch of 50 requests (request log and
  trace building included), median over batches; steadier than wall-clock percentiles on a
  shared machine, where another process taking the CPU shows up in p99.

Then `parallel`: the simulator waits 20 ms before its first token (a provider at work), and
the injection rule runs before the call (`parallel: false`) or while it waits
(`parallel: true`). Reported: the end-to-end p50 (asyncio's timers are only good to about a
millisecond, which hides a sub-millisecond saving) and when the provider call began after
the request arrived (p50): what parallel mode takes off the path to the provider.
Timing lives here only: the tests assert behaviour, never speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from proctor import config as config_mod
from proctor.app import Gateway
from proctor.context import ChatStream, Context
from proctor.wire.openai import parse_chat_request

DATA = Path("/work/shared/data/benign/self_instruct_user_oriented.jsonl")
OPTIONAL: dict[str, Any] = {
    "language": {"allowed": ["en"], "action": "flag"},
    "banned": {"topics": {"weapons": ["build a bomb", "untraceable gun"]}, "action": "flag"},
    "output_pii": {"action": "flag"},
    "output_secrets": {"action": "flag"},
}
CONFIGS: dict[str, dict[str, Any] | None] = {
    "off": {"enabled": False},
    "default": None,
    # Injection during the provider call (opt-in): its CPU cost next to the default's.
    "default, injection parallel": {"injection": {"parallel": True}},
    "default+optional": OPTIONAL,
}


class Messages:
    """Request bodies of `chars` characters of real prompts with an e-mail address and a phone
    number inside, a different one for every request: the input guards remember the long
    texts they have seen (a conversation's history), so a repeated message would measure
    that memo, not the detectors."""

    def __init__(self, chars: int) -> None:
        texts = [json.loads(line)["text"] for line in DATA.read_text().splitlines()]
        self.corpus = " ".join(" ".join(texts).split())
        self.chars = chars
        self.count = 0

    def text(self) -> str:
        self.count += 1
        span = len(self.corpus) - 2 * self.chars
        start = (self.count * 7919) % span
        half = self.chars // 2
        head = self.corpus[start : start + half]
        tail = self.corpus[start + half : start + self.chars]
        contact = "Contact me at jane.doe@example.org or +44 20 7946 0958."
        return f"Ticket {self.count}. {head} {contact} {tail}"[: self.chars]

    def body(self, stream: bool = False) -> bytes:
        return msgspec.json.encode(
            {"model": "m", "stream": stream, "messages": [{"role": "user", "content": self.text()}]}
        )


def gateway_config(tmp: Path, guards: dict[str, Any] | None, *, ttft_ms: float = 0.0) -> Any:
    raw: dict[str, Any] = {
        "store": {"url": f"sqlite:///{tmp / 'bench.db'}"},
        "providers": {"sim": {"type": "sim", "reply_tokens": 220, "ttft_ms": ttft_ms}},
        "models": {"m": {"deployments": [{"provider": "sim", "model": "small"}]}},
    }
    if guards is not None:
        raw["guards"] = guards
    return config_mod.from_dict(raw)


async def one(gateway: Gateway, body: bytes, ctx: Context | None = None) -> tuple[float, float]:
    """End-to-end ms, and the guard stages' own ms."""
    start = time.perf_counter_ns()
    ctx = ctx or Context(request=parse_chat_request(body, gateway.runtime.limits))
    reply = await gateway.run(ctx)
    if isinstance(reply, ChatStream):
        async for _ in reply:
            pass
    total = (time.perf_counter_ns() - start) / 1e6
    own = ctx.stage_timings_ms()
    return total, own.get("guard_in", 0.0) + own.get("guard_out", 0.0)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def compare(args: argparse.Namespace, messages: Messages, stream: bool) -> dict[str, Any]:
    per_round = args.requests // args.rounds
    batch = 50
    with tempfile.TemporaryDirectory() as tmp:
        gateways = {}
        for name, guards in CONFIGS.items():
            path = Path(tmp) / name
            path.mkdir()
            gateways[name] = Gateway(gateway_config(path, guards))
            await gateways[name].start()
        try:
            for gateway in gateways.values():  # warm-up: models load, caches fill
                for _ in range(100):
                    await one(gateway, messages.body(stream))
            rounds: list[dict[str, tuple[list[float], list[float]]]] = []
            cpu: dict[str, list[float]] = {n: [] for n in gateways}
            for _ in range(args.rounds):
                samples: dict[str, tuple[list[float], list[float]]] = {
                    n: ([], []) for n in gateways
                }
                for _ in range(per_round // batch):
                    for name, gateway in gateways.items():
                        bodies = [messages.body(stream) for _ in range(batch)]
                        started = time.process_time()
                        for body in bodies:
                            total, own = await one(gateway, body)
                            samples[name][0].append(total)
                            samples[name][1].append(own)
                        cpu[name].append((time.process_time() - started) / batch * 1e6)
                rounds.append(samples)
        finally:
            for gateway in gateways.values():
                await gateway.close()
    result: dict[str, Any] = {}
    for name in gateways:
        guard = [v for r in rounds for v in r[name][1]]
        added = {
            q: statistics.median(pct(r[name][0], q) - pct(r["off"][0], q) for r in rounds)
            for q in (0.5, 0.99)
        }
        result[name] = {
            "guard_p50": pct(guard, 0.5),
            "guard_p99": pct(guard, 0.99),
            "e2e_p50": statistics.median(pct(r[name][0], 0.5) for r in rounds),
            "e2e_p99": statistics.median(pct(r[name][0], 0.99) for r in rounds),
            "added_p50": added[0.5],
            "added_p99": added[0.99],
            "cpu_us": statistics.median(cpu[name]),
            "added_cpu_us": statistics.median(cpu[name]) - statistics.median(cpu["off"]),
        }
    return result


async def parallel(messages: Messages, requests: int) -> dict[str, tuple[float, float]]:
    """Per mode: e2e p50, and p50 of when the provider call began (ms after arrival)."""
    found: dict[str, list[float]] = {}
    began: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        gateways = {}
        for mode in (False, True):
            guards = {"injection": {"action": "flag", "parallel": mode}}
            path = Path(tmp) / str(mode)
            path.mkdir()
            gateways[mode] = Gateway(gateway_config(path, guards, ttft_ms=20))
            await gateways[mode].start()
        try:
            for _ in range(requests // 20):
                for mode, gateway in gateways.items():
                    for _ in range(10):
                        body = messages.body()
                        ctx = Context(request=parse_chat_request(body, gateway.runtime.limits))
                        found.setdefault(str(mode), []).append((await one(gateway, body, ctx))[0])
                        began.setdefault(str(mode), []).append(ctx.attempts[0].started_ms)
        finally:
            for gateway in gateways.values():
                await gateway.close()
    return {mode: (pct(found[mode], 0.5), pct(began[mode], 0.5)) for mode in found}


def print_table(title: str, result: dict[str, Any], stream: bool) -> None:
    print(f"\n{title}")
    print(
        "| config | guard p50 | guard p99 | e2e p50 | e2e p99 | added p50 | added p99 "
        "| CPU/request (us) | added CPU (us) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in result.items():
        guard = "n/a" if stream else f"{r['guard_p50']:.3f}"
        guard99 = "n/a" if stream else f"{r['guard_p99']:.3f}"
        print(
            f"| {name} | {guard} | {guard99} | {r['e2e_p50']:.3f} | {r['e2e_p99']:.3f} "
            f"| {r['added_p50']:+.3f} | {r['added_p99']:+.3f} "
            f"| {r['cpu_us']:.0f} | {r['added_cpu_us']:+.0f} |"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="per config and mode")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chars", type=int, default=1000)
    parser.add_argument("--parallel-requests", type=int, default=400)
    args = parser.parse_args()
    messages = Messages(args.chars)
    chars = len(messages.text())
    print(f"messages: {chars} characters; {args.requests} requests per config and mode")
    for stream in (False, True):
        result = await compare(args, messages, stream)
        kind = "streamed" if stream else "whole"
        print_table(f"{kind} replies (ms)", result, stream)
    modes = await parallel(messages, args.parallel_requests)
    print("\nparallel mode: the provider's first token after 20 ms; injection (flag) runs ...")
    print("| injection | e2e p50 | provider call begins, p50 (ms after arrival) |")
    print("|---|---|---|")
    for mode, label in (("False", "before the call"), ("True", "while it waits")):
        print(f"| {label} | {modes[mode][0]:.3f} | {modes[mode][1]:.3f} |")


if __name__ == "__main__":
    asyncio.run(main())
