"""Online clustering of query embeddings into topics: nearest centroid or a new topic.

A vector joins the topic whose centroid is most similar (cosine) if that similarity reaches
`threshold`, else it starts a topic. Centroids are running means (re-normalised for the
comparison). Memory is bounded: at most `max_topics` topics (beyond that the smallest is
merged into its nearest), and each keeps a bounded sample of its members' words, from which
its label (the most distinctive words, TF-IDF across topics) is built.
"""

from __future__ import annotations

import math
import re
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"[a-z][a-z0-9'-]{2,}")
STOPWORDS = frozenset(
    "the and for you your are was were what how can could would should will with this that "
    "from have has had not but all any about into out our they them their there then than "
    "when where which who whom why does did doing done please tell give need want like just "
    "get got let make some more most very also its it's i'm i'd i've don't can't me my mine "
    "show know help".split()
)
LABEL_WORDS = 3
SAMPLE_TEXTS = 50  # per topic, for its label


def words_of(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


@dataclass(slots=True)
class Topic:
    id: str
    created_at: float
    total: npt.NDArray[np.float32]  # sum of member vectors: the centroid is total / count
    count: int = 0
    label: str = ""
    samples: deque[list[str]] = field(default_factory=lambda: deque(maxlen=SAMPLE_TEXTS))

    @property
    def centroid(self) -> npt.NDArray[np.float32]:
        return (self.total / max(self.count, 1)).astype(np.float32)


@dataclass(slots=True)
class Changes:
    """What one batch changed: assignments (request id, topic id) and merged topics."""

    assigned: list[tuple[str, str]] = field(default_factory=list)
    merged: list[tuple[str, str]] = field(default_factory=list)  # (gone, into)
    touched: set[str] = field(default_factory=set)


class Clusterer:
    def __init__(self, dims: int, *, threshold: float, max_topics: int = 500) -> None:
        self.dims = dims
        self.threshold = threshold
        self.max_topics = max_topics
        self.topics: list[Topic] = []
        self._unit = np.zeros((0, dims), dtype=np.float32)  # normalised centroids, by row

    def load(self, topic: Topic) -> None:
        self.topics.append(topic)
        self._refresh(len(self.topics) - 1)

    def _refresh(self, row: int) -> None:
        centroid = self.topics[row].centroid
        unit = centroid / max(float(np.linalg.norm(centroid)), 1e-12)
        if row == len(self._unit):
            self._unit = np.vstack([self._unit, unit[None, :]])
        else:
            self._unit[row] = unit

    def add(
        self, ids: list[str], texts: list[str], vectors: npt.NDArray[np.float32], now: float
    ) -> Changes:
        changes = Changes()
        for request_id, text, vector in zip(ids, texts, vectors, strict=True):
            row = self._nearest(vector)
            if row is None:
                topic = Topic(uuid.uuid4().hex[:16], now, np.zeros(self.dims, np.float32))
                self.topics.append(topic)
                row = len(self.topics) - 1
            topic = self.topics[row]
            topic.total += vector
            topic.count += 1
            topic.samples.append(words_of(text))
            self._refresh(row)
            changes.assigned.append((request_id, topic.id))
            changes.touched.add(topic.id)
        while len(self.topics) > self.max_topics:
            changes.merged.append(self._merge_smallest())
        self.relabel(changes.touched)
        return changes

    def _nearest(self, vector: npt.NDArray[np.float32]) -> int | None:
        if not self.topics:
            return None
        similarity = self._unit @ vector
        row = int(np.argmax(similarity))
        return row if float(similarity[row]) >= self.threshold else None

    def _merge_smallest(self) -> tuple[str, str]:
        gone_row = min(range(len(self.topics)), key=lambda r: self.topics[r].count)
        gone = self.topics[gone_row]
        similarity = self._unit @ self._unit[gone_row]
        similarity[gone_row] = -math.inf
        into = self.topics[int(np.argmax(similarity))]
        into.total += gone.total
        into.count += gone.count
        into.samples.extend(gone.samples)
        del self.topics[gone_row]
        self._unit = np.delete(self._unit, gone_row, axis=0)
        self._refresh(self.topics.index(into))
        return gone.id, into.id

    def relabel(self, ids: set[str]) -> None:
        """Label the given topics by TF-IDF: a topic's sampled words are one document."""
        frequency: Counter[str] = Counter()
        for topic in self.topics:
            frequency.update({w for sample in topic.samples for w in sample})
        n = len(self.topics)
        for topic in self.topics:
            if topic.id not in ids:
                continue
            counts = Counter(w for sample in topic.samples for w in sample)
            scored = sorted(counts, key=lambda w: (-counts[w] * math.log(1 + n / frequency[w]), w))
            topic.label = " ".join(scored[:LABEL_WORDS]) or "(no words)"

    def assign_only(self, vectors: npt.NDArray[np.float32]) -> list[int | None]:
        """The topic row each vector would join, without changing anything."""
        return [self._nearest(v) for v in vectors]
