"""Offline token counting with the models' real vocabularies (quicktok bundles them).

Exact for OpenAI (cl100k_base, o200k_base, o200k_harmony), Llama 3 and Qwen 2.5/3. Other
families have no public offline tokenizer, so they get a calibrated estimate: the o200k_base
count times a per-family factor (the comment on `_CLAUDE_FACTOR` gives the figures and their
sources).

Chat framing follows OpenAI's cookbook "How to count tokens with tiktoken": 3 tokens per
message, the role and every field counted as text, +1 per `name`, +3 to prime the reply.
With it the cookbook's example conversation counts 129 tokens on gpt-4 and 124 on gpt-4o, and
its tool example 105 and 101: the numbers the OpenAI API itself reported (tests pin them).

Nothing is downloaded: quicktok's vocabularies ship inside its wheel. The first use of an
encoding builds its tables once (0.3-0.6 s and 40-80 MB of memory each, measured here), so a
server should call `preload` with its models at startup rather than on a request's path.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable
from typing import Any, NamedTuple, Protocol, cast

import quicktok  # type: ignore[import-untyped]  # ships no type hints; _Encoder types it

from proctor.wire.types import ChatRequest, Message, Tool, message_text

__all__ = [
    "Tokenization",
    "count_tokens",
    "estimate_prompt_tokens",
    "preload",
    "tokenization_for",
]


class _Encoder(Protocol):
    def count(self, text: str) -> int: ...


class Tokenization(NamedTuple):
    """How a model's text is counted: an encoding, times `factor`; `exact` is False when the
    encoding is not the model's own vocabulary, so the count is an estimate."""

    encoding: str
    factor: float = 1.0
    exact: bool = True


_FALLBACK = "o200k_base"

# Name patterns, tried in order; the first match decides. Newer OpenAI families (gpt-4o,
# 4.1, 4.5, 5, o-series) use o200k_base; gpt-4 / 3.5 and the embedding models cl100k_base.
_ENCODINGS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), encoding)
    for pattern, encoding in (
        (r"^gpt-oss", "o200k_harmony"),
        (r"^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-[5-9]|o[1-9](-|$)|codex)", "o200k_base"),
        (r"^(gpt-4|gpt-3\.5|text-embedding-(3|ada))", "cl100k_base"),
        (r"^(meta-)?llama-?3", "llama3"),
        (r"^(qwen|qwq)", "qwen3"),
    )
)

# Families without an offline tokenizer: the o200k_base count times a factor.
# - Claude before 4.7: Anthropic's tokenizer produced ~16% more tokens than GPT-4o's
#   (o200k_base) on English articles, ~21% on maths, ~30% on Python code, measured on
#   Claude 3.5 Sonnet vs GPT-4o in "Hidden costs in AI deployment: why Claude models may be
#   20-30% more expensive than GPT" (May 2025, widely republished, e.g.
#   news.quarkybyte.com/understanding-tokenizer-differences-...-2025-05-01). We take the
#   prose figure, 1.16: prompts are mostly prose; code-heavy ones are undercounted by ~12%.
# - Claude 4.7 and later (Opus 4.7/4.8/5.x, Sonnet 5.x, Haiku 5.x, Fable, Mythos): Anthropic's
#   model pages say their newer tokenizer counts "approximately 30% more tokens" for the same
#   text than Claude Haiku 4.5, so 1.16 x 1.30 = 1.51.
# - Mistral, Gemini, DeepSeek, Cohere and everything else: no reliable published comparison
#   was found, so 1.0 (plain o200k_base) and `exact` is False to say it is a guess.
_CLAUDE_FACTOR = 1.16
_CLAUDE_NEW_TOKENIZER_FACTOR = 1.51
_NEW_CLAUDE = re.compile(
    r"^claude-(opus-4-[7-9]|(opus|sonnet|haiku)-[5-9]|fable|mythos)|^claude-[5-9]"
)

_MODEL_CACHE_SIZE = 4096  # distinct model names remembered; clients choose them, so bounded


@functools.lru_cache(maxsize=_MODEL_CACHE_SIZE)
def tokenization_for(model: str) -> Tokenization:
    """The encoding (and factor) used to count tokens for `model`; any name is accepted."""
    name = model.lower().rsplit("/", 1)[-1]  # "openai/gpt-4o", "meta-llama/Llama-3.1-8B"
    for pattern, encoding in _ENCODINGS:
        if pattern.search(name):
            return Tokenization(encoding)
    if name.startswith("claude"):
        factor = _CLAUDE_NEW_TOKENIZER_FACTOR if _NEW_CLAUDE.search(name) else _CLAUDE_FACTOR
        return Tokenization(_FALLBACK, factor, exact=False)
    return Tokenization(_FALLBACK, exact=False)


class _Cached:
    """Remembers the counts of short texts. Roles, system prompts and templates repeat from
    request to request, and each call into the tokenizer releases and re-takes the GIL,
    which costs the event loop far more than the counting itself."""

    MAX_TEXT = 4096  # longer texts are rarely repeated; counting them is not worth keeping
    MAX_ENTRIES = 8192

    def __init__(self, encoder: _Encoder) -> None:
        self.encoder = encoder
        self.counts: dict[str, int] = {}

    def count(self, text: str) -> int:
        if len(text) > self.MAX_TEXT:
            return self.encoder.count(text)
        found = self.counts.get(text)
        if found is None:
            if len(self.counts) >= self.MAX_ENTRIES:
                self.counts.clear()
            found = self.counts[text] = self.encoder.count(text)
        return found


@functools.cache
def _encoder(encoding: str) -> _Encoder:
    return _Cached(cast(_Encoder, quicktok.get_encoding(encoding)))


def preload(models: Iterable[str]) -> None:
    """Load the encodings these models use now, so no request pays for the first load."""
    for encoding in {tokenization_for(model).encoding for model in models}:
        _encoder(encoding)


def count_tokens(text: str, model: str) -> int:
    """Tokens in `text` for `model`: exact where the vocabulary ships, else calibrated.
    Special-token text such as "<|endoftext|>" is counted as ordinary text, as the APIs do
    for user content."""
    tokenization = tokenization_for(model)
    count = _encoder(tokenization.encoding).count(text)
    if tokenization.factor == 1.0:
        return count
    return math.ceil(count * tokenization.factor)


# Tool-definition overheads from the cookbook's num_tokens_for_tools, fitted by OpenAI to
# what the API bills: o200k models (gpt-4o) start each function at 7, cl100k ones at 10.
_FUNC_INIT = {"o200k_base": 7, "o200k_harmony": 7, "cl100k_base": 10}
_PROP_INIT = 3  # once per function that has properties
_PROP_KEY = 3  # per property
_ENUM_INIT = -3  # per property with an enum
_ENUM_ITEM = 3  # per enum value, plus the value's own tokens
_FUNC_END = 12  # once when any tool is present
_TOKENS_PER_MESSAGE = 3  # <|start|>{role}<|message|>...<|end|> framing
_TOKENS_PER_NAME = 1
_REPLY_PRIMING = 3  # <|start|>assistant<|message|>
_TOKENS_PER_TOOL_CALL = 3  # approximate: the call's framing inside an assistant message


def estimate_prompt_tokens(req: ChatRequest, model: str | None = None) -> int:
    """Prompt tokens `req` will be billed for by `model` (default: `req.model`).

    A drop-in for `proctor.tokens.estimate_prompt_tokens`. Text messages follow OpenAI's
    documented framing exactly; tool definitions follow the cookbook's fitted formula, and
    assistant tool calls, nested tool schemas and `response_format` schemas are approximate.
    Images and other non-text parts are not counted (providers bill them by size). For
    families without their own vocabulary the whole count is scaled by the family factor.
    """
    tokenization = tokenization_for(model or req.model)
    encoder = _encoder(tokenization.encoding)
    total = _REPLY_PRIMING
    for message in req.messages:
        total += _message_tokens(encoder, message)
    if req.tools:
        func_init = _FUNC_INIT.get(tokenization.encoding, _FUNC_INIT[_FALLBACK])
        total += sum(func_init + _tool_tokens(encoder, tool) for tool in req.tools)
        total += _FUNC_END
    schema = _get(req.response_format, "json_schema")
    if schema:
        total += encoder.count(_json(schema))
    if tokenization.factor == 1.0:
        return total
    return math.ceil(total * tokenization.factor)


def _message_tokens(encoder: _Encoder, message: Message) -> int:
    # The cookbook counts every field's value as text, the role included.
    tokens = _TOKENS_PER_MESSAGE + encoder.count(message.role)
    tokens += encoder.count(message_text(message))
    if message.name:
        tokens += encoder.count(message.name) + _TOKENS_PER_NAME
    if message.refusal:
        tokens += encoder.count(message.refusal)
    for call in message.tool_calls or ():
        function = call.function
        tokens += _TOKENS_PER_TOOL_CALL + encoder.count(function.name)
        tokens += encoder.count(function.arguments)
    return tokens


def _tool_tokens(encoder: _Encoder, tool: Tool) -> int:
    """One function definition, as the cookbook renders it: "name:description", then per
    property "name:type:description" and its enum values."""
    function = tool.function
    tokens = encoder.count(f"{function.name}:{_strip_period(function.description)}")
    properties = _get(function.parameters, "properties")
    if isinstance(properties, dict) and properties:
        tokens += _PROP_INIT
        for key, schema in properties.items():
            tokens += _PROP_KEY + _property_tokens(encoder, str(key), schema)
    return tokens


def _property_tokens(encoder: _Encoder, key: str, schema: Any) -> int:
    if not isinstance(schema, dict):
        return encoder.count(f"{key}:{_json(schema)}")
    tokens = 0
    enum = schema.get("enum")
    if isinstance(enum, list):
        tokens += _ENUM_INIT
        tokens += sum(_ENUM_ITEM + encoder.count(str(item)) for item in enum)
    kind = schema.get("type", "")
    description = _strip_period(schema.get("description"))
    tokens += encoder.count(f"{key}:{kind}:{description}")
    # The cookbook's fit covers flat properties only; nested schemas (objects, arrays of
    # objects) are counted as their JSON text, an overestimate rather than a blind spot.
    nested = {k: v for k, v in schema.items() if k in ("properties", "items", "anyOf", "oneOf")}
    if nested:
        tokens += encoder.count(_json(nested))
    return tokens


def _strip_period(text: object) -> str:
    if not isinstance(text, str):
        return ""
    return text[:-1] if text.endswith(".") else text


def _get(obj: object, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
