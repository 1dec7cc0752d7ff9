"""Query topics in the background: the writer's observer samples and enqueues, a task
embeds in batches (in a worker thread), clusters, and persists topics and assignments.

`observe` runs on the writer's batches and only appends to a bounded deque: it never embeds,
never awaits, never blocks; a full queue drops the text and counts it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from proctor.config.topics import TopicsConfig
from proctor.context import Context
from proctor.embed import Embedder, HashingEmbedder, MiniLMEmbedder, default_embedder
from proctor.store.base import TopicStore
from proctor.topics.cluster import Changes, Clusterer, Topic
from proctor.wire.types import ChatRequest, message_text

log = logging.getLogger("proctor.topics")

# Calibrated on CLINC150 (40 intents x 25 queries): the threshold with the best adjusted
# Rand index for each embedder (MiniLM: ARI 0.70, purity 0.90; hashing: ARI 0.43, 0.82).
THRESHOLDS = {"minilm-l6-int8": 0.5, "hashing": 0.4}


def make_embedder(kind: str) -> Embedder:
    if kind == "hashing":
        return HashingEmbedder()
    if kind == "minilm":
        return MiniLMEmbedder()
    return default_embedder()


def query_text(ctx: Context, max_chars: int) -> str | None:
    """The last user message of a chat request, truncated; None for anything else."""
    request = ctx.request
    if not isinstance(request, ChatRequest):
        return None
    for message in reversed(request.messages):
        if message.role == "user":
            text = message_text(message).strip()
            return text[:max_chars] or None
    return None


class TopicService:
    def __init__(
        self, store: Any, config: TopicsConfig, *, embedder: Embedder | None = None
    ) -> None:
        self.store = store if isinstance(store, TopicStore) else None
        self.config = config
        self.embedder = embedder if embedder is not None else make_embedder(config.embedder)
        threshold = config.threshold
        if threshold is None:
            threshold = THRESHOLDS.get(self.embedder.name, 0.5)
        self.clusterer = Clusterer(
            self.embedder.dims, threshold=threshold, max_topics=config.max_topics
        )
        self._queue: deque[tuple[str, str, float]] = deque()
        self._rng = random.Random()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.dropped = 0
        self.skipped = 0  # over max_per_second
        self._allowance = config.max_per_second
        self._allowed_at = time.monotonic()
        self.clustered = 0

    @property
    def enabled(self) -> bool:
        return self.config.enabled and self.store is not None

    def observe(self, contexts: Sequence[Context]) -> None:
        """A writer observer: sample, take the query text, enqueue. Never blocks."""
        if not self.enabled:
            return
        rate = self.config.sample_rate
        for ctx in contexts:
            if rate < 1 and self._rng.random() >= rate:
                continue
            if not self._within_rate():
                self.skipped += 1
                continue
            text = query_text(ctx, self.config.max_chars)
            if text is None:
                continue
            if len(self._queue) >= self.config.queue_size:
                self.dropped += 1
                continue
            self._queue.append((ctx.request_id, text, ctx.started_at))
        if len(self._queue) >= self.config.batch_size:
            self._wake.set()

    def _within_rate(self) -> bool:
        """A token bucket of `max_per_second`, one second deep: past it, requests go
        unclustered (counted) so that embedding never takes more than its share of CPU."""
        now = time.monotonic()
        limit = self.config.max_per_second
        self._allowance = min(limit, self._allowance + (now - self._allowed_at) * limit)
        self._allowed_at = now
        if self._allowance < 1:
            return False
        self._allowance -= 1
        return True

    async def start(self) -> None:
        if not self.enabled or self._task is not None:
            return
        assert self.store is not None
        for row in await self.store.load_topics():
            if row["embedder"] != self.embedder.name:
                continue  # vectors of another model are not comparable
            total = np.frombuffer(base64.b64decode(row["centroid"]), dtype=np.float32).copy()
            if total.shape != (self.embedder.dims,):
                continue
            self.clusterer.load(
                Topic(row["id"], row["created_at"], total, row["count"], row["label"])
            )
        self._task = asyncio.create_task(self._run(), name="proctor-topics")

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.flush_interval_s)
            self._wake.clear()
            try:
                await self.drain()
            except Exception:  # a bad batch must not stop the task
                log.exception("topic clustering failed")

    async def drain(self) -> None:
        """Embed, cluster and persist everything queued, a batch at a time."""
        while self._queue:
            n = min(self.config.batch_size, len(self._queue))
            batch = [self._queue.popleft() for _ in range(n)]
            texts = [text for _, text, _ in batch]
            vectors = await asyncio.to_thread(self.embedder.embed, texts)
            changes = self.clusterer.add([rid for rid, _, _ in batch], texts, vectors, time.time())
            at = {rid: started for rid, _, started in batch}
            await self._persist(changes, at)
            self.clustered += n

    async def _persist(self, changes: Changes, at: dict[str, float]) -> None:
        assert self.store is not None
        rows = [
            {
                "id": t.id,
                "label": t.label,
                "created_at": t.created_at,
                "count": t.count,
                "embedder": self.embedder.name,
                "centroid": base64.b64encode(t.total.astype(np.float32).tobytes()).decode(),
            }
            for t in self.clusterer.topics
            if t.id in changes.touched or any(t.id == into for _, into in changes.merged)
        ]
        assigned = [(rid, topic, at[rid]) for rid, topic in changes.assigned]
        await self.store.write_topics(rows, assigned, changes.merged)

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
            await self.drain()
