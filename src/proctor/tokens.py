"""A token estimate that needs no vocabulary: the simulator's usage figures.

Real counting (exact for OpenAI models, calibrated for others) is in proctor.cost.tokenizer.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def approx_tokens(text: str) -> int:
    """Close to BPE counts for English: a token per word or symbol, long words split."""
    count = 0
    for piece in _TOKEN.findall(text):
        count += 1 + len(piece) // 7
    return count
