"""Profiles of OpenAI-compatible servers: the small ways each one differs from OpenAI.

One adapter speaks the OpenAI wire format to all of them; a profile only says where the
server usually lives, whether it needs a key, and which request fields it names differently
or rejects. Selected by `profile:` in a provider of `type: openai`.

This module imports nothing from proctor, so that config validation can use `PROFILE_NAMES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

MaxTokensField = Literal["max_tokens", "max_completion_tokens"]


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    # Where the server listens by default; None when there is no sensible default.
    base_url: str | None
    requires_api_key: bool
    # Whether the server accepts `stream_options: {include_usage: true}`. Without it a
    # streamed answer carries usage only if the server volunteers it.
    stream_usage: bool = True
    # The one name the server understands for the output limit; None forwards the client's.
    max_tokens_field: MaxTokensField | None = "max_tokens"
    # Fields the server rejects rather than ignores (a 4xx for an unknown field).
    drop: frozenset[str] = frozenset()
    # Fields the server knows under another name: (ours, theirs).
    rename: tuple[tuple[str, str], ...] = ()


OPENAI_BASE_URL = "https://api.openai.com/v1"

_PROFILES = (
    # OpenAI accepts both output-limit names (reasoning models only the newer one), so the
    # client's choice is forwarded as is.
    # Anthropic-only fields (an Anthropic client's request routed here) are a 400 at OpenAI.
    Profile(
        "openai",
        OPENAI_BASE_URL,
        requires_api_key=True,
        max_tokens_field=None,
        drop=frozenset({"top_k", "thinking", "container", "mcp_servers"}),
    ),
    # Any other server that follows the OpenAI API closely.
    Profile("compatible", None, requires_api_key=False),
    Profile("vllm", "http://127.0.0.1:8000/v1", requires_api_key=False),
    Profile("ollama", "http://127.0.0.1:11434/v1", requires_api_key=False),
    Profile("llamacpp", "http://127.0.0.1:8080/v1", requires_api_key=False),
    Profile("lmstudio", "http://127.0.0.1:1234/v1", requires_api_key=False),
    Profile(
        "groq",
        "https://api.groq.com/openai/v1",
        requires_api_key=True,
        max_tokens_field="max_completion_tokens",
        drop=frozenset({"logprobs", "top_logprobs", "logit_bias"}),
    ),
    Profile("together", "https://api.together.xyz/v1", requires_api_key=True),
    # Mistral validates strictly: unknown fields are a 422, and the seed has its own name.
    # Its streams end with a usage chunk unasked.
    Profile(
        "mistral",
        "https://api.mistral.ai/v1",
        requires_api_key=True,
        stream_usage=False,
        drop=frozenset({"user", "logit_bias", "logprobs", "top_logprobs", "store"}),
        rename=(("seed", "random_seed"),),
    ),
    Profile("deepseek", "https://api.deepseek.com/v1", requires_api_key=True),
    Profile(
        "openrouter", "https://openrouter.ai/api/v1", requires_api_key=True, max_tokens_field=None
    ),
    Profile("fireworks", "https://api.fireworks.ai/inference/v1", requires_api_key=True),
)

PROFILES: Mapping[str, Profile] = MappingProxyType({p.name: p for p in _PROFILES})
PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)


def get(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILE_NAMES)
        raise ValueError(f"unknown OpenAI-compatible profile '{name}' (known: {known})") from None
