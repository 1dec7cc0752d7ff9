"""Train the shipped toxicity classifier: src/proctor/guards/toxicity/model.npz.

    .venv/bin/pip install -e '.[bench]'      # scikit-learn, for training only
    .venv/bin/python bench/guards/train_toxicity.py [--data DIR] [--out FILE]

Features are the runtime's own (`proctor.guards.ngrams`), values 1/sqrt(n) per
occurrence as the runtime scores them. Two L2 logistic regressions (TOXIC, HATE; the HATE
head with balanced class weights, hate being rare) are fitted on the train part; the
regularisation C and both thresholds are chosen for F1 on the val part; the test parts and
HateCheck are never looked at here (bench/guards/toxicity.py reports on them). The weights
are stored as float16 (about 1 MB).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

import proctor.guards
from proctor.guards.ngrams import BITS, clean, features, mask_identities

sys.path.insert(0, str(Path(__file__).parent))
from toxicity_data import DATA, Row, training_sources

# Written beside the runtime that loads it (importing the runtime would load the old one).
MODEL_PATH = Path(proctor.guards.__file__).parent / "toxicity" / "model.npz"
C_GRID = (4.0, 8.0, 16.0, 32.0, 64.0)


def matrix(texts: list[str]) -> sparse.csr_matrix:
    rows, cols, values = [], [], []
    for i, text in enumerate(texts):
        indices, _ = features(mask_identities(clean(text)))
        if len(indices) == 0:
            continue
        rows.append(np.full(len(indices), i))
        cols.append(indices)
        values.append(np.full(len(indices), 1.0 / np.sqrt(len(indices)), dtype=np.float32))
    return sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(texts), 2**BITS),
    )


def best_threshold(y: npt.NDArray[np.int64], p: npt.NDArray[np.float64]) -> tuple[float, float]:
    grid = np.linspace(0.05, 0.95, 91)
    scores = [f1_score(y, p >= t) for t in grid]
    best = int(np.argmax(scores))
    return float(grid[best]), float(scores[best])


def sample_weights(rows: list[Row], head: str) -> npt.NDArray[np.float64]:
    """Equal total weight for the positives and negatives of each small, identity-focused
    source (HateCheck, ToxiGen), so that naming a group is not learnt as a sign of hate when
    most of a source's sentences that name one are hateful."""
    weights = np.ones(len(rows))
    for source in ("hatecheck", "toxigen"):
        members = [i for i, r in enumerate(rows) if r.source == source]
        positives = [i for i in members if getattr(rows[i], head) == 1]
        negatives = [i for i in members if getattr(rows[i], head) == 0]
        if positives and negatives:
            total = len(positives) + len(negatives)
            weights[positives] = total / (2 * len(positives))
            weights[negatives] = total / (2 * len(negatives))
    return weights


def fit_head(x_train, y_train, w_train, x_val, y_val, balanced: bool):  # type: ignore[no-untyped-def]
    best = None
    for c in C_GRID:
        model = LogisticRegression(
            C=c, max_iter=2000, solver="liblinear", class_weight="balanced" if balanced else None
        )
        model.fit(x_train, y_train, sample_weight=w_train)
        threshold, f1 = best_threshold(y_val, model.predict_proba(x_val)[:, 1])
        print(f"  C={c:<5} val F1 {f1:.3f} at threshold {threshold:.2f}")
        if best is None or f1 > best[0]:
            best = (f1, c, model)
    assert best is not None
    print(f"  -> C={best[1]}")
    return best[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument(
        "--hatecheck",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also train on HateCheck's train templates (its test templates are never used)",
    )
    args = parser.parse_args()

    rows = training_sources(args.data, with_hatecheck=args.hatecheck)
    train = [r for r in rows if r.part == "train"]
    val = [r for r in rows if r.part == "val"]
    print(f"train {len(train)} rows, val {len(val)} rows")
    x_train, x_val = matrix([r.text for r in train]), matrix([r.text for r in val])

    def labels(part: list[Row], head: str) -> npt.NDArray[np.int64]:
        return np.array([getattr(r, head) for r in part])

    heads = []
    for head, balanced in (("toxic", False), ("hate", True)):
        print(f"head {head}")
        # Rows without a label for this head (-1) are left out of its fit and its tuning.
        y_train, y_val = labels(train, head), labels(val, head)
        fit, tune = y_train >= 0, y_val >= 0
        model = fit_head(
            x_train[fit],
            y_train[fit],
            sample_weights(train, head)[fit],
            x_val[tune],
            y_val[tune],
            balanced,
        )
        heads.append(model)
    p_val = np.stack([m.predict_proba(x_val)[:, 1] for m in heads], axis=1)
    # detect_toxicity scores max(P(toxic), P(hate)); HATE typing uses P(hate) alone.
    y_toxic = labels(val, "toxic")
    known = y_toxic >= 0
    score_threshold, score_f1 = best_threshold(y_toxic[known], p_val[known].max(axis=1))
    hate_threshold, hate_f1 = best_threshold(labels(val, "hate"), p_val[:, 1])
    print(
        f"score threshold {score_threshold:.2f} (val F1 {score_f1:.3f}); "
        f"hate threshold {hate_threshold:.2f} (val F1 {hate_f1:.3f})"
    )

    weights = np.stack([m.coef_[0] for m in heads]).astype(np.float16)
    bias = np.array([m.intercept_[0] for m in heads], dtype=np.float32)
    np.savez_compressed(
        args.out,
        weights=weights,
        bias=bias,
        thresholds=np.array([score_threshold, hate_threshold], dtype=np.float32),
    )
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
