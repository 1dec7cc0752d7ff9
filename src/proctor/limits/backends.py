"""Choose the counter backend: in memory for one process, Redis when replicas share it."""

from __future__ import annotations

from proctor.config import RedisConfig
from proctor.limits.counter import Counter, MemoryCounter


def open_counter(config: RedisConfig) -> Counter:
    if config.url is None:
        return MemoryCounter()
    from proctor.limits.redis import RedisCounter  # redis-py is only imported when used

    return RedisCounter(config.url, prefix=config.prefix)
