"""The `topics` section: production queries clustered into topics in the background.

topics:
  enabled: true
  sample_rate: 1.0          # share of finished chat requests that are clustered
  max_per_second: 5         # at most this many embedded per second (a query costs ~4 ms
                            # of CPU to embed: uncapped, a busy gateway would spend a core)
  embedder: auto            # auto (MiniLM if installed, else hashing), minilm, hashing
  threshold: null           # cosine to join a topic; null: the embedder's calibrated one
  max_topics: 500           # beyond this the smallest topic is merged into its nearest
  queue_size: 10000         # texts waiting to be embedded; more are dropped (counted)
  batch_size: 64
  flush_interval_s: 1.0
  max_chars: 1000           # of the last user message
  growing_factor: 2.0       # `growing`: this many times the previous window's requests
  growing_min_requests: 10  # ... and at least this many in the window
"""

from __future__ import annotations

from typing import Literal

import msgspec


class TopicsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    sample_rate: float = 1.0
    max_per_second: float = 5.0
    embedder: Literal["auto", "minilm", "hashing"] = "auto"
    threshold: float | None = None
    max_topics: int = 500
    queue_size: int = 10_000
    batch_size: int = 64
    flush_interval_s: float = 1.0
    max_chars: int = 1000
    growing_factor: float = 2.0
    growing_min_requests: int = 10


def check_topics(topics: TopicsConfig) -> str | None:
    """The first problem with the section, naming its key; None when it is fine."""
    if not 0 <= topics.sample_rate <= 1:
        return "`$.topics.sample_rate` must be between 0 and 1"
    if topics.max_per_second <= 0:
        return "`$.topics.max_per_second` must be positive"
    if topics.threshold is not None and not -1 < topics.threshold <= 1:
        return "`$.topics.threshold` must be in (-1, 1]"
    for name in ("max_topics", "queue_size", "batch_size", "max_chars", "growing_min_requests"):
        if getattr(topics, name) <= 0:
            return f"`$.topics.{name}` must be positive"
    if topics.flush_interval_s <= 0:
        return "`$.topics.flush_interval_s` must be positive"
    if topics.growing_factor <= 1:
        return "`$.topics.growing_factor` must be greater than 1"
    return None
