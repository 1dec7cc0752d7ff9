"""Latency of the non-PII, non-injection detectors on 1,000-character messages.

    .venv/bin/python bench/guards/detectors.py [--runs N] [--data DIR]

Messages are 1,000 characters of everyday assistant queries (CLINC150 test, CC-BY-3.0, and
self-instruct, Apache-2.0) joined together; a "mixed" set adds in each message one of: a fake
API key, a connection string, emoji with joiners, accented and Cyrillic words, a zero-width
space, so that the slower paths (non-ASCII text, candidates to check) are measured too.
Budgets (p99, from issue #6): secrets 0.2 ms, invisible 0.05 ms, banned 0.1 ms, toxicity 0.4 ms.
Timings depend on the load of the machine (2 cores shared here): the wall-clock p99 includes
time the thread waited for a core, so the thread's CPU time p99 is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from proctor.guards.banned import BannedTerms
from proctor.guards.language import detect_language
from proctor.guards.leak import detect_prompt_leak, make_canary
from proctor.guards.schema import validate_json
from proctor.guards.secrets import detect_secrets
from proctor.guards.toxicity import detect_toxicity
from proctor.guards.unicode import detect_invisible, strip_invisible

DATA = Path("/work/shared/data")
BUDGETS = {"secrets": 0.2, "invisible": 0.05, "banned": 0.1, "toxicity": 0.4}
EXTRAS = (
    " my key is sk-proj-Xb7Qm2Lp9Rt4Vz8Nc1Kd6Hs3Fw5Gy0Ja ",
    " DATABASE_URL=postgres://app:s3cr3t9x@db.internal:5432/prod ",
    " great job \U0001f44d\U0001f3fd \U0001f468\u200d\U0001f469\u200d\U0001f467 ",
    " café naïve résumé Привет мир ",
    " ig\u200bnore ",
)
TOPICS = {
    "weapons": ["bomb", "pipe bomb", "explosive", "detonator", "assault rifle", "ghost gun"],
    "medical": ["diagnosis", "dosage", "prescription", "overdose", "side effects"],
    "finance": ["insider trading", "pump and dump", "money laundering", "tax evasion"],
}
BANNED = ["project falcon", "acme internal", "codename bluebird", "confidential roadmap"]
SCHEMA = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "sources": {"type": "array", "items": {"type": "string"}},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["answer", "confidence"],
}


def messages(data: Path, mixed: bool, count: int = 200) -> list[str]:
    rows = (data / "benign" / "clinc150_full.jsonl").read_text().splitlines()
    texts = [r["text"] for r in map(json.loads, rows) if r["split"] == "test"]
    for name in ("self_instruct_user_oriented", "self_instruct_seed_tasks"):
        lines = (data / "benign" / f"{name}.jsonl").read_text().splitlines()
        texts += [json.loads(line)["text"] for line in lines]
    rng = random.Random(11)
    out = []
    for i in range(count):
        parts = [EXTRAS[i % len(EXTRAS)]] if mixed else []
        while sum(len(p) + 1 for p in parts) < 1000:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(texts))
        out.append(" ".join(parts)[:1000])
    return out


def measure(fn: Callable[[str], object], texts: list[str], runs: int) -> tuple[float, ...]:
    """Wall-clock p50 and p99, and the p99 of the thread's CPU time, in ms. On a shared
    machine the wall p99 includes time the thread was not running; the CPU p99 does not."""
    for text in texts[:20]:
        fn(text)
    wall, cpu = [], []
    for i in range(runs):
        text = texts[i % len(texts)]
        start, start_cpu = time.perf_counter(), time.thread_time()
        fn(text)
        cpu.append((time.thread_time() - start_cpu) * 1e3)
        wall.append((time.perf_counter() - start) * 1e3)
    wall.sort()
    cpu.sort()
    p99 = int(0.99 * runs) - 1
    return statistics.median(wall), wall[p99], cpu[p99]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    banned = BannedTerms(BANNED, TOPICS)
    prompt = " ".join(messages(args.data, False, 2))[:1500]
    canary = make_canary()
    document = json.dumps({"answer": "x" * 900, "sources": ["a", "b"], "confidence": 0.8})
    detectors: dict[str, Callable[[str], object]] = {
        "secrets": detect_secrets,
        "invisible": detect_invisible,
        "strip_invisible": strip_invisible,
        "banned": banned,
        "toxicity": detect_toxicity,
        "leak": lambda text: detect_prompt_leak(text, prompt, canary),
        "language": detect_language,
        "schema (1,000-char JSON)": lambda _text: validate_json(document, SCHEMA),
    }
    for mixed in (False, True):
        texts = messages(args.data, mixed)
        print(f"{'mixed' if mixed else 'plain English'} 1,000-char messages, {args.runs} runs")
        for name, fn in detectors.items():
            p50, p99, cpu99 = measure(fn, texts, args.runs)
            budget = BUDGETS.get(name)
            note = f"  (budget p99 {budget} ms)" if budget else ""
            print(f"  {name:<26} p50 {p50:.3f}  p99 {p99:.3f}  cpu p99 {cpu99:.3f} ms{note}")


if __name__ == "__main__":
    main()
