"""Usage always carries its three counts, zeros included, as OpenAI's API does: clients add
them up and a missing one reads as None."""

from __future__ import annotations

import msgspec

from proctor.wire.types import Usage


def test_zero_counts_are_sent() -> None:
    assert msgspec.json.decode(msgspec.json.encode(Usage(5, 0, 5))) == {
        "prompt_tokens": 5,
        "completion_tokens": 0,
        "total_tokens": 5,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }
    empty = msgspec.json.decode(msgspec.json.encode(Usage()))
    assert (empty["prompt_tokens"], empty["completion_tokens"], empty["total_tokens"]) == (0, 0, 0)
