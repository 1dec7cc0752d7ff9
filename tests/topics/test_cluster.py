"""Clustering recovers planted groups: CLINC150 intents, read from the shared data folder."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from proctor.embed import HashingEmbedder, default_embedder
from proctor.topics.cluster import Clusterer, Topic
from proctor.topics.service import THRESHOLDS

CLINC = Path(__file__).resolve().parents[3] / "shared" / "data" / "benign" / "clinc150_full.jsonl"
INTENTS = ("translate", "weather", "credit_score")


def planted() -> tuple[list[str], list[str]]:
    if not CLINC.is_file():
        pytest.skip(f"{CLINC} is missing (the shared data folder is not here)")
    by_intent: dict[str, list[str]] = {i: [] for i in INTENTS}
    for line in CLINC.read_text().splitlines():
        row = json.loads(line)
        if row["intent"] in by_intent:
            by_intent[row["intent"]].append(row["text"])
    rng = random.Random(1)
    pairs = [(t, i) for i in INTENTS for t in rng.sample(by_intent[i], 20)]
    rng.shuffle(pairs)
    return [t for t, _ in pairs], [i for _, i in pairs]


def test_recovers_planted_intents() -> None:
    texts, gold = planted()
    embedder = default_embedder()
    clusterer = Clusterer(embedder.dims, threshold=THRESHOLDS[embedder.name])
    changes = clusterer.add([str(i) for i in range(len(texts))], texts, embedder.embed(texts), 0)
    predicted = [topic for _, topic in changes.assigned]
    # Each intent's largest topic holds half its queries or more; topics hardly mix intents.
    for intent in INTENTS:
        mine = Counter(p for p, g in zip(predicted, gold, strict=True) if g == intent)
        assert mine.most_common(1)[0][1] >= 10, (intent, mine)
    pairs = Counter(zip(predicted, gold, strict=True))
    purity = sum(max(v for (p, _), v in pairs.items() if p == t) for t in set(predicted))
    assert purity / len(texts) >= 0.9
    labels = {t.label for t in clusterer.topics if t.count >= 10}
    assert any("weather" in label for label in labels), labels


def test_cap_merges_the_smallest() -> None:
    embedder = HashingEmbedder(dims=64)
    clusterer = Clusterer(64, threshold=0.99, max_topics=3)
    texts = ["alpha beta", "gamma delta", "epsilon zeta", "eta theta", "alpha beta"]
    changes = clusterer.add([f"r{i}" for i in range(5)], texts, embedder.embed(texts), 0)
    assert len(clusterer.topics) == 3
    assert changes.merged
    assert sum(t.count for t in clusterer.topics) == 5
    assert clusterer._unit.shape == (3, 64)


def test_loaded_topic_is_joined() -> None:
    clusterer = Clusterer(2, threshold=0.9)
    clusterer.load(Topic("t1", 0.0, np.array([3.0, 0.0], np.float32), 3, "x"))
    changes = clusterer.add(["r"], ["x"], np.array([[1.0, 0.0]], np.float32), 1.0)
    assert changes.assigned == [("r", "t1")]
    assert clusterer.topics[0].count == 4
