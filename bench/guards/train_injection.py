"""Train the injection classifier and write src/proctor/guards/injection/model.npz.

    .venv/bin/pip install -e '.[bench]'          # scikit-learn, for this script only
    .venv/bin/python bench/guards/train_injection.py

Reads the train split of bench/guards/injection_data.py (never its test or OOD parts), with
the package's own feature code (proctor.guards.injection.classifier), so inference needs
numpy only. Steps, all deterministic (fixed seed, fixed fold assignment):

1. choose the L2 strength C by grouped 4-fold cross-validation on the train split;
2. out-of-fold attack logits + the heuristics' weight -> a 3-parameter logistic regression
   (the stacker), which calibrates the combined score; and the class-balanced precision of
   strong heuristic evidence alone (>= STRONG), the floor of the score when it is present;
3. the decision threshold: the one that maximises the mean per-source accuracy of the
   out-of-fold stacked scores (train split only);
4. fit the attack head on the whole train split, and the type head (jailbreak vs
   injection) on its attacks;
5. document mode: the sentence head and its calibration (train_injection_document.py);

and save float16 weights, all in one file.
"""

from __future__ import annotations

import hashlib
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import numpy.typing as npt

try:
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression
except ImportError:  # a bench-only dependency
    sys.exit("scikit-learn is needed to train: .venv/bin/pip install -e '.[bench]'")

sys.path.insert(0, str(Path(__file__).parent))

from injection_data import Sample, groups, load
from train_injection_document import fit_document

from proctor.guards.injection import heuristics
from proctor.guards.injection.classifier import BITS, MODEL_PATH, families, windows
from proctor.guards.injection.normalize import bounded, fold, views

FOLDS = 4
STRONG = 3.0  # one strong rule, or two medium ones, or a hidden one
CAP = 6.0  # heuristic weight counted at most this much (several weak rules != certainty)
# Per-source share of the training weight within its class; the hard negatives count more.
SOURCE_WEIGHT = {"notinject_hard_negatives": 2.0}
Array = npt.NDArray[np.float64]


def matrix(texts: list[str]) -> tuple[sparse.csr_matrix, npt.NDArray[np.int64]]:
    """One row per window; `owner[row]` is the index of the text it came from."""
    rows: list[int] = []
    cols: list[npt.NDArray[np.int64]] = []
    vals: list[npt.NDArray[np.float32]] = []
    owner: list[int] = []
    for i, text in enumerate(texts):
        for window in windows(fold(bounded(text))):
            fam = families(window)
            r = len(owner)
            owner.append(i)
            for idx in (fam.chars, fam.words):
                if len(idx):
                    present = np.unique(idx)  # as Model.logits: binary, L2-normalised
                    cols.append(present)
                    vals.append(np.full(len(present), 1 / np.sqrt(len(present)), np.float32))
                    rows.extend([r] * len(present))
    m = sparse.csr_matrix(
        (np.concatenate(vals), (np.asarray(rows), np.concatenate(cols))),
        shape=(len(owner), 1 << BITS),
        dtype=np.float32,
    )
    m.sum_duplicates()
    return m, np.asarray(owner, dtype=np.int64)


def sample_weights(samples: list[Sample]) -> Array:
    """Each source gets a total weight, and both classes the same total."""
    count: dict[str, int] = defaultdict(int)
    for s in samples:
        count[s.source] += 1
    w = np.array([SOURCE_WEIGHT.get(s.source, 1.0) / count[s.source] for s in samples])
    y = np.array([s.label for s in samples])
    for label in (0, 1):
        w[y == label] /= w[y == label].sum()
    return w * len(samples) / 2


def per_text_max(values: Array, owner: npt.NDArray[np.int64], n: int) -> Array:
    out = np.full(n, -np.inf)
    np.maximum.at(out, owner, values)
    return out


def fit(x: sparse.csr_matrix, y: Array, w: Array, c: float) -> LogisticRegression:
    model = LogisticRegression(C=c, max_iter=3000, solver="lbfgs")
    model.fit(x, y, sample_weight=w)
    return model


def out_of_fold(
    x: sparse.csr_matrix, owner: npt.NDArray[np.int64], samples: list[Sample], c: float
) -> Array:
    """Attack logit of each train text from a model that did not see its group."""
    near = groups([s.text for s in samples])
    keys = [s.group or f"near:{g}" for s, g in zip(samples, near, strict=True)]
    fold_of = np.array([int(hashlib.sha1(k.encode()).hexdigest(), 16) % FOLDS for k in keys])
    y = np.array([s.label for s in samples], dtype=np.float64)
    w = sample_weights(samples)
    counts = np.bincount(owner, minlength=len(samples))
    row_w = w[owner] / counts[owner]
    logits = np.zeros(x.shape[0])
    for k in range(FOLDS):
        held = fold_of[owner] == k
        model = fit(x[~held], y[owner][~held], row_w[~held], c)
        logits[held] = model.decision_function(x[held])
    return per_text_max(logits, owner, len(samples))


def balanced_accuracy(score: Array, y: Array, threshold: float) -> float:
    pred = score >= threshold
    return float((pred[y == 1].mean() + (~pred[y == 0]).mean()) / 2)


def mean_source_accuracy(p: Array, samples: list[Sample], threshold: float) -> float:
    by: dict[str, list[bool]] = defaultdict(list)
    for prob, s in zip(p, samples, strict=True):
        by[s.source].append((prob >= threshold) == bool(s.label))
    return float(np.mean([np.mean(v) for v in by.values()]))


def report(prob: Array, oof: Array, hits: Array, samples: list[Sample], threshold: float) -> None:
    """Out-of-fold accuracy per source: classifier alone, heuristics alone, stacked."""
    by: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        by[s.source].append(i)
    for source, idx in sorted(by.items()):
        want = samples[idx[0]].label == 1
        acc = [
            np.mean((v[idx] >= t) == want) for v, t in ((oof, 0.0), (hits, 1.5), (prob, threshold))
        ]
        print(
            f"  {source:28} n={len(idx):6} clf {acc[0]:.3f} heur {acc[1]:.3f} stacked {acc[2]:.3f}"
        )


def main() -> None:
    samples = [s for s in load() if s.split == "train"]
    y = np.array([s.label for s in samples], dtype=np.float64)
    w = sample_weights(samples)
    print(f"train texts: {len(samples)} ({int(y.sum())} attacks)")
    x, owner = matrix([s.text for s in samples])
    print(f"windows: {x.shape[0]}")

    best: tuple[float, float, Array] = (-1.0, 0.0, np.zeros(0))
    for c in (16.0, 64.0):
        oof = out_of_fold(x, owner, samples, c)
        ba = balanced_accuracy(oof, y, 0.0)
        print(f"C={c}: out-of-fold balanced accuracy {ba:.4f}")
        if ba > best[0]:
            best = (ba, c, oof)
    _, c, oof = best

    hits = np.array([heuristics.total(heuristics.match(views(s.text)), CAP) for s in samples])
    if len(sys.argv) > 1:  # development: keep the out-of-fold scores for a look
        np.savez(sys.argv[1], oof=oof, hits=hits, y=y, source=[s.source for s in samples])
    stack_x = np.column_stack([oof, hits])
    stacker = LogisticRegression(C=10.0).fit(stack_x, y, sample_weight=w)
    prob = stacker.predict_proba(stack_x)[:, 1]
    # Strong heuristic evidence alone: its class-balanced precision on the train split.
    strong = hits >= STRONG
    tpr = (w * (strong & (y == 1))).sum() / (w * (y == 1)).sum()
    fpr = (w * (strong & (y == 0))).sum() / (w * (y == 0)).sum()
    strong_p = float(tpr / (tpr + fpr))
    print(f"heuristics >= {STRONG}: TPR {tpr:.3f} FPR {fpr:.4f} -> precision {strong_p:.4f}")
    prob = np.where(strong, np.maximum(prob, strong_p), prob)
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)
    threshold = float(max(grid, key=lambda t: (mean_source_accuracy(prob, samples, t), -t)))
    print(f"C={c}; stacker {stacker.coef_[0]}, {stacker.intercept_[0]:.3f}; threshold {threshold}")
    accuracy = mean_source_accuracy(prob, samples, threshold)
    print(f"out-of-fold stacked: mean per-source accuracy {accuracy:.4f}")
    report(prob, oof, hits, samples, threshold)

    counts = np.bincount(owner, minlength=len(samples))
    row_w = w[owner] / counts[owner]
    attack = fit(x, y[owner], row_w, c)
    # Type head: jailbreak (1) vs injection (0), fitted on the attacks only.
    attacks = [i for i, s in enumerate(samples) if s.label == 1]
    typed = [Sample(samples[i].text, int(samples[i].type == "JAILBREAK"), samples[i].source, "")
             for i in attacks]  # fmt: skip
    position = np.full(len(samples), -1)
    position[attacks] = np.arange(len(attacks))
    rows = position[owner] >= 0
    type_y = np.array([t.label for t in typed], dtype=np.float64)[position[owner][rows]]
    type_w = (sample_weights(typed)[position[owner]] / counts[owner])[rows]
    type_model = fit(x[rows], type_y, type_w, 4.0)

    coef, intercept = stacker.coef_[0], stacker.intercept_[0]
    stack = np.array([coef[0], coef[1], CAP, intercept, STRONG, strong_p])
    document_mode = fit_document(samples, threshold)
    with MODEL_PATH.open("wb") as f:
        np.savez_compressed(
            f,
            attack=attack.coef_[0].astype(np.float16),
            attack_bias=np.float64(attack.intercept_[0]),
            jailbreak=type_model.coef_[0].astype(np.float16),
            jailbreak_bias=np.float64(type_model.intercept_[0]),
            stack=stack,
            threshold=np.float64(threshold),
            **document_mode,
        )
    digest = hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest()[:16]
    print(f"wrote {MODEL_PATH} ({MODEL_PATH.stat().st_size} bytes, sha256 {digest})")


if __name__ == "__main__":
    main()
