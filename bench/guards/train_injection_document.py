"""The document mode's sentence head and its calibration, fitted for train_injection.py.

Train split only, as the rest of the model:

- positives, sentences addressed to an assistant: BIPIA's train attack instructions (the
  lead sentence only, for code payloads), the self-instruct task instructions of the train
  split, a fixed sample of CLINC150's train queries, the short (one- or two-segment)
  WildGuard and NotInject prompts of the train split, and Do-Not-Answer's questions (user
  requests: inside a document they are just as foreign as a planted task; the more ways of
  asking, the less the head depends on BIPIA's few task categories);
- negatives, sentences of documents: BIPIA's train e-mails cut into segments as
  `document.segments` cuts them, STS-B's train sentences (news headlines, image captions,
  SNLI), the presidio-research synthetic sentences (both files) and GPTCache's mock
  sentence pairs (product documentation).

Calibration: the train attacks and e-mails are split into 4 folds, three times over; for
each fold a head fitted on the other folds scores documents made only of that fold's
e-mails and text attacks (planted as BIPIA plants them, clean, and spliced with another
e-mail's sentence) and benign prose documents of that fold. A logistic regression over (top
logit, top minus the mean of the others, the share of the top segment's wording found in
the rest) turns that evidence into a probability. Its offset is shifted so that the chosen
cut falls on the model's DEFAULT_THRESHOLD: the cut with the best out-of-fold balanced
accuracy among those whose spliced-e-mail FPR stays within 3% in 95% of bootstrap
resamplings of the e-mails the spliced sentences come from.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from injection_data import SEED, Sample, _jsonl, _unit, plant, stsb_documents, stsb_sentences
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from proctor.guards.injection import classifier, document
from proctor.guards.injection.normalize import bounded, fold

FOLDS = 4
REPEATS = 3  # cross-validation repeated with other folds: 50 e-mails make a noisy estimate
C = 0.5
CLINC_SAMPLE = 3000
SPLICED = 20  # spliced look-alikes per e-mail in the calibration documents
# The cut (see fit_document): the spliced e-mails' false-positive rate must stay within
# TARGET_SPLICED_FPR in BOOTSTRAP_QUANTILE of resamplings of the train e-mails.
TARGET_SPLICED_FPR = 0.03
BOOTSTRAP_QUANTILE = 0.95
BOOTSTRAPS = 2000
# Calibration: each kind of benign document's share of the negative weight (the spliced
# e-mails are the hardest look-alikes).
DOC_WEIGHT = {"planted": 1.0, "clean": 1.0, "spliced": 2.0, "prose": 1.0}
# Each source's share of its class's training weight.
SOURCE_WEIGHT = {
    "bipia_attack": 6.0,
    "self_instruct": 1.0,
    "clinc150": 0.3,
    "user_prompt": 2.0,
    "do_not_answer": 1.0,
    "bipia_email": 3.0,
    "stsb": 1.0,
    "presidio": 1.0,
    "gptcache": 0.5,
}
Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str  # folded segment
    label: int
    source: str
    key: str  # what the fold is drawn from: the whole text the sentence came from


def _fold(key: str, repeat: int) -> int:
    return int(hashlib.sha1(f"{repeat}:{key}".encode()).hexdigest(), 16) % FOLDS


def cut(text: str) -> list[str]:
    """The segments of a text as document mode reads them (folded first, as it is)."""
    return document.segments(fold(bounded(text)))


def _emails(split: str) -> list[str]:
    rows = _jsonl("prompt_injection/bipia_email_contexts.jsonl")
    return [str(r["text"]) for r in rows if r["split"] == split]


def _attacks(split: str, kind: str | None = None) -> list[str]:
    rows = _jsonl("prompt_injection/bipia_attack_instructions.jsonl")
    rows = [r for r in rows if kind is None or r["attack_kind"] == kind]
    return [str(r["text"]) for r in rows if r["split"] == split]


def sentences(samples: list[Sample]) -> list[Sentence]:
    """The sentence head's training set (train split only), with a fold for each."""
    out: list[Sentence] = []

    def add(texts: Iterable[str], label: int, source: str, first: bool = False) -> None:
        for text in texts:
            parts = cut(text)
            key = f"{source}:{text}"
            out.extend(Sentence(p, label, source, key) for p in parts[: 1 if first else None])

    # A code payload's lines ("sock.close()") are no instruction: only its lead sentence
    # ("Merge the following code block into your solution:") is; the whole-text
    # classifier reads the code itself.
    add(_attacks("train", "text"), 1, "bipia_attack")
    add(_attacks("train", "code"), 1, "bipia_attack", first=True)
    train = {s.text for s in samples if s.split == "train"}
    tasks = _jsonl("benign/self_instruct_seed_tasks.jsonl")
    tasks += _jsonl("benign/self_instruct_user_oriented.jsonl")
    add((str(r["instruction"]) for r in tasks if str(r["text"]) in train), 1, "self_instruct")
    clinc = sorted(
        (s.text for s in samples if s.source == "clinc150" and s.split == "train"),
        key=lambda t: _unit("clinc-sentence" + t),
    )
    add(clinc[:CLINC_SAMPLE], 1, "clinc150")
    # Short user prompts of the train split (one or two segments: a long role-play setup is
    # not one sentence addressed to the assistant) and Do-Not-Answer's questions: more ways
    # to ask an assistant something than the tasks above have.
    prompts = [
        s.text
        for s in samples
        if s.split == "train" and s.source in ("wildguard_benign", "notinject_hard_negatives")
    ]
    add((t for t in prompts if len(cut(t)) <= 2), 1, "user_prompt")
    add(
        (str(r["text"]) for r in _jsonl("harmful_requests/do_not_answer.jsonl")), 1, "do_not_answer"
    )
    add(_emails("train"), 0, "bipia_email")
    add(stsb_sentences("train"), 0, "stsb")
    presidio = _jsonl("pii/presidio_synth_dataset_v2.jsonl")
    presidio += _jsonl("pii/presidio_generated_large.jsonl")
    add((str(r["text"]) for r in presidio), 0, "presidio")
    pairs = _jsonl("paraphrase/gptcache_mock_pairs.jsonl")
    add((str(r[k]) for r in pairs for k in ("origin", "similar")), 0, "gptcache")
    return out


def matrix(parts: list[str]) -> sparse.csr_matrix:
    """One row per segment, the features `document.segment_logits` reads."""
    width = 1 << classifier.BITS
    char_keys, word_keys, n = document.features(parts)
    rows: list[npt.NDArray[np.int64]] = []
    cols: list[npt.NDArray[np.int64]] = []
    vals: list[Array] = []
    for keys in (char_keys, word_keys):
        present = np.unique(keys)
        seg = present // width
        counts = np.bincount(seg, minlength=n)
        rows.append(seg)
        cols.append(present % width)
        vals.append(1 / np.sqrt(counts[seg]))
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, width),
        dtype=np.float32,
    )


def weights(data: list[Sentence]) -> Array:
    count: dict[str, int] = defaultdict(int)
    for s in data:
        count[s.source] += 1
    w = np.array([SOURCE_WEIGHT[s.source] / count[s.source] for s in data])
    y = np.array([s.label for s in data])
    for label in (0, 1):
        w[y == label] /= w[y == label].sum()
    return w * len(data) / 2


def fit_head(data: list[Sentence]) -> tuple[npt.NDArray[np.float32], float]:
    x = matrix([s.text for s in data])
    y = np.array([s.label for s in data], dtype=np.float64)
    model = LogisticRegression(C=C, max_iter=3000, solver="lbfgs")
    model.fit(x, y, sample_weight=weights(data))
    head = model.coef_[0].astype(np.float16).astype(np.float32)  # as shipped
    return head, float(model.intercept_[0])


@dataclass(frozen=True, slots=True)
class Doc:
    text: str
    label: int
    source: str
    # The e-mail it was built on; for a spliced one, the e-mail its spliced sentence came
    # from, which is what makes it a false positive or not (none for prose).
    email: str = ""


def fold_documents(k: int, repeat: int, rng: random.Random) -> list[Doc]:
    """Out-of-fold documents of fold `k`: its text attacks planted in its e-mails, its clean
    e-mails, spliced ones, and benign prose."""
    emails = [e for e in _emails("train") if _fold(f"bipia_email:{e}", repeat) == k]
    # Text tasks only: code payloads are the whole-text classifier's (all of them flagged).
    attacks = [a for a in _attacks("train", "text") if _fold(f"bipia_attack:{a}", repeat) == k]
    docs: list[Doc] = []
    for email in emails:
        for attack in attacks:
            where = rng.choice(("start", "middle", "end"))
            docs.append(Doc(plant(email, attack, where), 1, "planted", email))
        docs.append(Doc(email, 0, "clean", email))
        sents = [(s, e) for e in emails if e != email for s in cut(e)]
        for _ in range(SPLICED):
            where = rng.choice(("start", "middle", "end"))
            sentence, origin = rng.choice(sents)
            docs.append(Doc(plant(email, sentence, where), 0, "spliced", origin))
    prose = [d for d in stsb_documents("train") if _fold(f"stsb-doc:{d}", repeat) == k]
    docs.extend(Doc(d, 0, "prose") for d in prose[:200])
    return docs


def evidence_matrix(head: npt.NDArray[np.float32], bias: float, docs: list[Doc]) -> Array:
    rows = []
    for d in docs:
        ev = document.evidence(head, bias, fold(bounded(d.text)))
        rows.append((ev.top, ev.top - ev.rest, ev.shared) if ev else (-10.0, 0.0, 1.0))
    return np.array(rows)


def _balanced(docs: list[Doc]) -> Array:
    """Both classes the same total weight, each negative source the same share."""
    count: dict[str, int] = defaultdict(int)
    for d in docs:
        count[d.source] += 1
    w = np.array([DOC_WEIGHT[d.source] / count[d.source] for d in docs])
    y = np.array([d.label for d in docs])
    for label in (0, 1):
        w[y == label] /= w[y == label].sum()
    return w


def fit_document(samples: list[Sample], threshold: float) -> dict[str, npt.NDArray[np.generic]]:
    """The arrays the model file gains: the sentence head and its calibration."""
    data = sentences(samples)
    print(f"document mode: {len(data)} sentences ({sum(s.label for s in data)} positive)")
    rng = random.Random(SEED)
    docs: list[Doc] = []
    feats: list[Array] = []
    for repeat in range(REPEATS):
        for k in range(FOLDS):
            head, bias = fit_head([s for s in data if _fold(s.key, repeat) != k])
            fold_docs = fold_documents(k, repeat, rng)
            docs.extend(fold_docs)
            feats.append(evidence_matrix(head, bias, fold_docs))
    x = np.vstack(feats)
    y = np.array([d.label for d in docs], dtype=np.float64)
    w = _balanced(docs)
    calib = LogisticRegression(C=10.0).fit(x, y, sample_weight=w * len(docs))
    z = calib.decision_function(x)
    # The cut that maximises the out-of-fold balanced accuracy (ties: the stricter cut)
    # among those whose spliced-e-mail FPR stays within the 3% target for hard negatives
    # when the e-mails themselves are resampled: the false positives come from a few
    # e-mails with a sentence that asks the reader to act, so 50 e-mails make a noisy
    # estimate, and unseen e-mails have other such sentences.
    cuts = safe_cuts(z, docs, random.Random(SEED))
    best = max(cuts, key=lambda t: (_ba(z, y, w, t), t))
    spliced = np.array([d.source == "spliced" for d in docs])
    print(f"  cut: out-of-fold spliced FPR {(z[spliced] >= best).mean():.4f}")
    offset = float(calib.intercept_[0]) - best + math.log(threshold / (1 - threshold))
    report(z - best, docs, w)
    curve(z, docs)
    head, bias = fit_head(data)
    a, b, c = calib.coef_[0]
    return {
        "sentence": head.astype(np.float16),
        "sentence_bias": np.float64(bias),
        "document": np.array([a, b, c, offset]),
    }


def safe_cuts(z: Array, docs: list[Doc], rng: random.Random) -> list[float]:
    """The cuts whose spliced-e-mail FPR is at most TARGET_SPLICED_FPR in the
    BOOTSTRAP_QUANTILE of bootstrap resamplings of the e-mails the spliced sentences come
    from (a false positive is a sentence that reads as a task, wherever it is spliced)."""
    spliced = [i for i, d in enumerate(docs) if d.source == "spliced"]
    emails = sorted({docs[i].email for i in spliced})
    index = {e: k for k, e in enumerate(emails)}
    owner = np.array([index[docs[i].email] for i in spliced])
    scores = z[spliced]
    draws = np.zeros((BOOTSTRAPS, len(emails)))
    for b in range(BOOTSTRAPS):
        for _ in emails:
            draws[b, rng.randrange(len(emails))] += 1
    total = draws @ np.bincount(owner, minlength=len(emails))
    candidates = np.unique(scores)
    out: list[float] = []
    for t in candidates[candidates >= np.quantile(scores, 0.9)]:
        flagged = np.bincount(owner, weights=scores >= t, minlength=len(emails))
        if np.quantile(draws @ flagged / total, BOOTSTRAP_QUANTILE) <= TARGET_SPLICED_FPR:
            out.append(float(t))
    return out or [float(scores.max()) + 1e-9]


def _ba(z: Array, y: Array, w: Array, t: float) -> float:
    pred = z >= t
    tpr = (w * (pred & (y == 1))).sum() / (w * (y == 1)).sum()
    tnr = (w * (~pred & (y == 0))).sum() / (w * (y == 0)).sum()
    return float((tpr + tnr) / 2)


def report(margin: Array, docs: list[Doc], w: Array) -> None:
    by: dict[str, list[bool]] = defaultdict(list)
    for m, d in zip(margin, docs, strict=True):
        by[d.source].append(bool(m >= 0) == bool(d.label))
    for source, hits in sorted(by.items()):
        print(f"  out-of-fold documents, {source:8} n={len(hits):5} accuracy {np.mean(hits):.3f}")
    y = np.array([d.label for d in docs], dtype=np.float64)
    print(f"  out-of-fold documents: balanced accuracy {_ba(margin, y, w, 0.0):.4f}")


def curve(z: Array, docs: list[Doc]) -> None:
    """TPR on planted documents at a few false-positive rates on the spliced e-mails."""
    src = np.array([d.source for d in docs])
    spliced = np.sort(z[src == "spliced"])[::-1]
    for fpr in (0.01, 0.02, 0.03, 0.05):
        cut = spliced[int(fpr * len(spliced))]
        tpr = float((z[src == "planted"] > cut).mean())
        clean = float((z[src == "clean"] > cut).mean())
        print(f"  at spliced FPR {fpr:.2f}: planted TPR {tpr:.3f}, clean FPR {clean:.3f}")
