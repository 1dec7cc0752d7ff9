"""Span attribute names and the attributes of a request, an attempt and a tag set.

`gen_ai.*` names follow the OpenTelemetry GenAI semantic conventions (development status;
the names of opentelemetry-semantic-conventions 0.66b / semantic-conventions-genai). What
the conventions have no name for is under `proctor.*`: tags, the request id, the deployment,
the cost (the conventions define no cost attribute), stage timings.
"""

from __future__ import annotations

from typing import Final

from proctor.context import Attempt, Context, Tags
from proctor.wire.types import ChatRequest, EmbeddingRequest

AttrValue = str | bool | int | float | list[str]
Attributes = dict[str, AttrValue]

OPERATION: Final = "gen_ai.operation.name"
PROVIDER: Final = "gen_ai.provider.name"
REQUEST_MODEL: Final = "gen_ai.request.model"
MAX_TOKENS: Final = "gen_ai.request.max_tokens"
TEMPERATURE: Final = "gen_ai.request.temperature"
TOP_P: Final = "gen_ai.request.top_p"
SEED: Final = "gen_ai.request.seed"
FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
CHOICE_COUNT: Final = "gen_ai.request.choice.count"
DIMENSIONS: Final = "gen_ai.embeddings.dimension.count"
RESPONSE_MODEL: Final = "gen_ai.response.model"
TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"  # seconds
INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
CACHE_CREATION_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
REASONING_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
CONVERSATION: Final = "gen_ai.conversation.id"
INPUT_MESSAGES: Final = "gen_ai.input.messages"
ERROR_TYPE: Final = "error.type"
HTTP_STATUS: Final = "http.response.status_code"

EVALUATION_EVENT: Final = "gen_ai.evaluation.result"
EVALUATION_NAME: Final = "gen_ai.evaluation.name"
EVALUATION_SCORE: Final = "gen_ai.evaluation.score.value"
EVALUATION_LABEL: Final = "gen_ai.evaluation.score.label"
EVALUATION_EXPLANATION: Final = "gen_ai.evaluation.explanation"

REQUEST_ID: Final = "proctor.request_id"
API: Final = "proctor.api"
STREAM: Final = "proctor.stream"
STATUS: Final = "proctor.status"
ERROR: Final = "proctor.error"
COST: Final = "proctor.cost_usd"
# Not (yet) in the GenAI conventions; the name the issue and several backends use.
GEN_AI_COST: Final = "gen_ai.usage.cost"
TTFT_MS: Final = "proctor.ttft_ms"
DEPLOYMENT: Final = "proctor.deployment"
PROVIDER_INSTANCE: Final = "proctor.provider"
DEPLOYMENT_MODEL: Final = "proctor.deployment_model"
SYSTEM_FINGERPRINT: Final = "proctor.system_fingerprint"
ATTEMPTS: Final = "proctor.attempts"
HEDGED: Final = "proctor.hedged"
CONTENT_TRUNCATED: Final = "proctor.content_truncated"
STAGE: Final = "proctor.stage"
STAGE_OWN_MS: Final = "proctor.stage.own_ms"  # the stage's own time, without inner stages
ATTEMPT_INDEX: Final = "proctor.attempt.index"
ATTEMPT_STATUS: Final = "proctor.attempt.status"  # upstream HTTP status; 0: not sent
ATTEMPT_LATENCY_MS: Final = "proctor.attempt.latency_ms"
ATTEMPT_ERROR: Final = "proctor.attempt.error"
FINDING_STAGE: Final = "proctor.finding.stage"
FINDING_RULE: Final = "proctor.finding.rule"
FINDING_ACTION: Final = "proctor.finding.action"
FINDING_SCORE: Final = "proctor.finding.score"

# Tags field -> attribute (proctor.user, proctor.feature, ...).
TAGS: Final = {name: f"proctor.{name}" for name in Tags.__dataclass_fields__}


def _put(result: Attributes, name: str, value: AttrValue | None) -> None:
    if value is not None:
        result[name] = value


def request_attributes(ctx: Context) -> Attributes:
    """What was asked: operation, model and sampling parameters."""
    request = ctx.request
    result: Attributes = {
        OPERATION: ctx.operation,
        REQUEST_MODEL: request.model,
        REQUEST_ID: ctx.request_id,
        API: ctx.api,
        STREAM: ctx.stream,
    }
    if isinstance(request, ChatRequest):
        _put(result, MAX_TOKENS, request.output_limit)
        _put(result, TEMPERATURE, request.temperature)
        _put(result, TOP_P, request.top_p)
        _put(result, SEED, request.seed)
        _put(result, FREQUENCY_PENALTY, request.frequency_penalty)
        _put(result, PRESENCE_PENALTY, request.presence_penalty)
        stop = request.stop
        _put(result, STOP_SEQUENCES, [stop] if isinstance(stop, str) else stop)
        if request.n is not None and request.n != 1:
            result[CHOICE_COUNT] = request.n
    elif isinstance(request, EmbeddingRequest):
        _put(result, DIMENSIONS, request.dimensions)
    return result


def outcome_attributes(ctx: Context) -> Attributes:
    """What happened: status, who answered, usage, cost, time to first token."""
    result: Attributes = {STATUS: ctx.status, HTTP_STATUS: ctx.status, ATTEMPTS: len(ctx.attempts)}
    if ctx.status >= 400:
        result[ERROR_TYPE] = str(ctx.status)
    _put(result, ERROR, ctx.error)
    _put(result, DEPLOYMENT, ctx.deployment)
    _put(result, PROVIDER_INSTANCE, ctx.provider)
    _put(result, DEPLOYMENT_MODEL, ctx.deployment_model)
    _put(result, RESPONSE_MODEL, ctx.served_model)
    _put(result, SYSTEM_FINGERPRINT, ctx.system_fingerprint)
    _put(result, COST, ctx.cost_usd)
    _put(result, GEN_AI_COST, ctx.cost_usd)
    if ctx.ttft_ms is not None:
        result[TTFT_MS] = round(ctx.ttft_ms, 3)
        if ctx.stream:
            result[TIME_TO_FIRST_CHUNK] = ctx.ttft_ms / 1000
    if ctx.notes.get("hedged"):
        result[HEDGED] = True
    usage = ctx.usage
    if usage is not None:
        result[INPUT_TOKENS] = usage.prompt_tokens
        result[OUTPUT_TOKENS] = usage.completion_tokens
        for name, count in (
            (CACHE_READ_TOKENS, usage.cached_tokens),
            (CACHE_CREATION_TOKENS, usage.cache_creation_tokens),
            (REASONING_TOKENS, usage.reasoning_tokens),
        ):
            if count:
                result[name] = count
    return result


def tag_attributes(tags: Tags) -> Attributes:
    result: Attributes = {}
    for name, attribute in TAGS.items():
        _put(result, attribute, getattr(tags, name))
    if tags.session is not None:
        result[CONVERSATION] = tags.session
    return result


def failed(attempt: Attempt) -> bool:
    """An attempt that failed (not one skipped, nor a hedge's loser that was cancelled)."""
    error = attempt.error
    return error is not None and not error.startswith("skipped") and error != "cancelled"


def attempt_attributes(
    ctx: Context, attempt: Attempt, index: int, provider: str, response_model: str | None
) -> Attributes:
    result: Attributes = {
        OPERATION: ctx.operation,
        PROVIDER: provider,
        REQUEST_MODEL: attempt.model,
        DEPLOYMENT: attempt.deployment,
        PROVIDER_INSTANCE: attempt.provider,
        ATTEMPT_INDEX: index,
        ATTEMPT_STATUS: attempt.status,
        ATTEMPT_LATENCY_MS: round(attempt.latency_ms, 3),
    }
    _put(result, RESPONSE_MODEL, response_model)
    if attempt.error is not None:
        result[ATTEMPT_ERROR] = attempt.error
        if failed(attempt):
            result[ERROR_TYPE] = str(attempt.status) if attempt.status else "error"
    return result
