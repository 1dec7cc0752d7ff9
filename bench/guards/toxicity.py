"""Toxicity classifier: F1 on held-out parts, HateCheck per functional test, and latency.

    .venv/bin/python bench/guards/toxicity.py [--data DIR] [--baseline] [--model FILE]

- Davidson and ToxiGen: the test parts of the fixed hash split (toxicity_data.py), never
  trained on; TOXIC = any detection, HATE = a detection typed HATE. Also the share of benign
  assistant queries flagged (CLINC150 test, self-instruct user-oriented).
- HateCheck, its test templates (half of them, never trained on; see toxicity_data.py): F1
  for hateful vs non-hateful where "hateful" is a detection typed HATE, and also where it is
  any detection; then the false-positive rate on each functional test's non-hateful cases,
  under both readings (profanity and reclaimed slurs are expected to be TOXIC, not HATE), and
  the recall on each hateful functional test.
- Latency of `detect_toxicity` on 1,000-character texts built by joining data rows.
- `--baseline`: alt-profanity-check on the same rows, if installed (not a dependency).
- `--model FILE`: score with another weights file (train_toxicity.py --out FILE), e.g. one
  trained without HateCheck (`--no-hatecheck`), instead of the shipped one.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from proctor.guards import toxicity
from proctor.guards.toxicity import detect_toxicity, load_model

sys.path.insert(0, str(Path(__file__).parent))
from toxicity_data import DATA, Row, benign, davidson, hatecheck, toxigen

Predict = Callable[[str], tuple[bool, bool]]  # (flagged at all, flagged as hate)


def ours(text: str) -> tuple[bool, bool]:
    found = detect_toxicity(text)
    return bool(found), bool(found) and found[0].type == "HATE"


def f1(gold: Sequence[int], predicted: Sequence[bool]) -> tuple[float, float, float]:
    tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g and p)
    fp = sum(1 for g, p in zip(gold, predicted, strict=True) if not g and p)
    fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g and not p)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, score


def report_source(name: str, rows: list[Row], predict: Predict) -> None:
    predictions = [predict(r.text) for r in rows]
    for head, index in (("toxic", 0), ("hate", 1)):
        gold = [getattr(r, head) for r in rows]
        if not any(gold):
            continue
        p, r, f = f1(gold, [pred[index] for pred in predictions])
        print(
            f"  {name:<10} {head.upper():<5} n={len(rows):<5} pos={sum(gold):<5} "
            f"P {p:.3f}  R {r:.3f}  F1 {f:.3f}"
        )


def report_hatecheck(rows: list[Row], predict: Predict) -> None:
    predictions = [predict(r.text) for r in rows]
    gold = [r.hate for r in rows]
    for label, index in (("typed HATE", 1), ("any detection", 0)):
        p, r, f = f1(gold, [pred[index] for pred in predictions])
        print(f"  HateCheck hateful = {label:<14} n={len(rows)} P {p:.3f}  R {r:.3f}  F1 {f:.3f}")
    flagged: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    recall: dict[str, list[bool]] = defaultdict(list)
    for row, pred in zip(rows, predictions, strict=True):
        if row.hate:
            recall[row.functionality].append(pred[0])
        else:
            flagged[row.functionality].append(pred)
    print("  non-hateful functional tests: false-positive rate (as HATE / any detection)")
    for name, preds in sorted(flagged.items()):
        as_hate = sum(p[1] for p in preds) / len(preds)
        any_kind = sum(p[0] for p in preds) / len(preds)
        print(f"    {name:<20} n={len(preds):<4} {as_hate:6.1%}  {any_kind:6.1%}")
    print("  hateful functional tests: recall (any detection)")
    for name, hits in sorted(recall.items()):
        print(f"    {name:<20} n={len(hits):<4} {sum(hits) / len(hits):6.1%}")


def latency(rows: list[Row], runs: int = 2000) -> None:
    rng = random.Random(7)
    texts = []
    for _ in range(200):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < 1000:
            parts.append(rng.choice(rows).text)
        texts.append(" ".join(parts)[:1000])
    for text in texts[:20]:
        detect_toxicity(text)
    wall, cpu = [], []
    for i in range(runs):
        text = texts[i % len(texts)]
        start, start_cpu = time.perf_counter(), time.thread_time()
        detect_toxicity(text)
        cpu.append((time.thread_time() - start_cpu) * 1e3)
        wall.append((time.perf_counter() - start) * 1e3)
    wall.sort()
    cpu.sort()
    p99 = int(0.99 * runs) - 1
    print(
        f"  detect_toxicity on 1,000-char texts: p50 {statistics.median(wall):.3f} ms  "
        f"p99 {wall[p99]:.3f} ms  (thread CPU time p99 {cpu[p99]:.3f} ms; {runs} runs)"
    )


def baseline_predict() -> Predict | None:
    try:
        from profanity_check import predict_prob  # type: ignore[import-not-found]
    except ImportError:
        print("alt-profanity-check is not installed: no baseline")
        return None

    def predict(text: str) -> tuple[bool, bool]:
        flagged = bool(predict_prob([text])[0] >= 0.5)
        return flagged, flagged

    return predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--model", type=Path, help="another weights file to score with")
    args = parser.parse_args()
    if args.model is not None:  # the runtime reads these module globals on every call
        model = load_model(args.model)
        toxicity._MODEL = model
        toxicity.DEFAULT_THRESHOLD, toxicity.HATE_THRESHOLD = model.thresholds
    sources = {
        "davidson": [r for r in davidson(args.data) if r.part == "test"],
        "toxigen": [r for r in toxigen(args.data) if r.part == "test"],
    }
    benign_test = [r for r in benign(args.data) if r.part == "test"]
    cases = [r for r in hatecheck(args.data) if r.part == "test"]
    predictors: list[tuple[str, Predict]] = [
        (
            f"proctor (threshold {toxicity.DEFAULT_THRESHOLD:.2f}, "
            f"HATE from {toxicity.HATE_THRESHOLD:.2f})",
            ours,
        )
    ]
    if args.baseline and (baseline := baseline_predict()) is not None:
        predictors.append(("alt-profanity-check (one head: flagged counts as both)", baseline))
    for name, predict in predictors:
        print(name)
        for source, rows in sources.items():
            report_source(source, rows, predict)
        flagged = sum(predict(r.text)[0] for r in benign_test)
        print(
            f"  benign queries flagged: {flagged}/{len(benign_test)} "
            f"({flagged / len(benign_test):.2%})"
        )
        report_hatecheck(cases, predict)
    latency(sources["davidson"] + sources["toxigen"])


if __name__ == "__main__":
    main()
