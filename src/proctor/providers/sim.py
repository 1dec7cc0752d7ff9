"""The `sim` provider: an offline model simulator, so that everything runs with no keys.

Answers are deterministic for a given seed and request, labelled as simulated (the served
model is `sim/<model>`), paced by a configurable time to first token and tokens per second,
and fail at a configurable rate with configurable error kinds, for drills and tests.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import struct
import time
from collections.abc import AsyncIterator

from proctor.config import SimProviderConfig
from proctor.errors import (
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
)
from proctor.providers import sim_text
from proctor.providers.base import Deployment
from proctor.tokens import approx_tokens
from proctor.wire.types import (
    AssistantMessage,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    ChunkChoice,
    Delta,
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    EmbeddingUsage,
    FunctionCall,
    FunctionCallDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
    message_text,
)


class SimProvider:
    def __init__(self, name: str, config: SimProviderConfig) -> None:
        self.name = name
        self.config = config

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _maybe_fail(self, req_key: str) -> None:
        config = self.config
        if config.error_rate <= 0:
            return
        rng = sim_text.seeded_rng(config.seed, "fault", req_key, str(time.monotonic_ns()))
        if rng.random() >= config.error_rate:
            return
        kind = rng.choice(config.error_kinds)
        raise _fault(self.name, kind)

    def _plan(self, req: ChatRequest, deployment: Deployment) -> tuple[ChatResponse, list[str]]:
        """The whole answer, and the pieces it streams as."""
        config = self.config
        prompt = message_text(req.messages[-1]) if req.messages else ""
        rng = sim_text.seeded_rng(config.seed, deployment.model, prompt, str(req.seed))
        budget = min(config.reply_tokens, req.output_limit or config.reply_tokens)
        served = f"sim/{deployment.model}"
        prompt_tokens = sum(4 + approx_tokens(message_text(m)) for m in req.messages) + sum(
            8 + approx_tokens(json.dumps(t.function.parameters)) for t in req.tools or []
        )
        tool_call = _tool_call(req, rng)
        if tool_call is not None:
            message = AssistantMessage(content=None, tool_calls=[tool_call])
            finish, pieces = "tool_calls", [tool_call.function.arguments]
            completion_tokens = 4 + approx_tokens(tool_call.function.arguments)
        else:
            text = sim_text.reply_text(rng, deployment.model, prompt, budget)
            if req.response_format is not None:
                text = sim_text.json_reply(req.response_format, text, rng)
            pieces = sim_text.split_for_stream(text)
            truncated = req.output_limit is not None and req.output_limit < len(pieces)
            if truncated and req.response_format is None:
                pieces = pieces[: req.output_limit]
                text = "".join(pieces)
            message = AssistantMessage(content=text)
            finish = "length" if truncated else "stop"
            completion_tokens = approx_tokens(text)
            if truncated and req.output_limit is not None:
                completion_tokens = req.output_limit
        response = ChatResponse(
            id="chatcmpl-sim" + format(rng.getrandbits(64), "016x"),
            created=int(time.time()),
            model=served,
            choices=[Choice(index=0, message=message, finish_reason=finish)],
            usage=Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
            ),
            system_fingerprint=f"sim-{config.seed}",
        )
        return response, pieces

    async def complete(self, req: ChatRequest, deployment: Deployment) -> ChatResponse:
        self._maybe_fail(deployment.model)
        response, pieces = self._plan(req, deployment)
        delay = self.config.ttft_ms / 1000 + self._per_token_s() * max(0, len(pieces) - 1)
        if delay > 0:
            await asyncio.sleep(delay)
        return response

    def _per_token_s(self) -> float:
        rate = self.config.tokens_per_s
        return 1.0 / rate if rate > 0 else 0.0

    async def stream(self, req: ChatRequest, deployment: Deployment) -> AsyncIterator[ChatChunk]:
        self._maybe_fail(deployment.model)
        response, pieces = self._plan(req, deployment)
        if self.config.ttft_ms > 0:
            await asyncio.sleep(self.config.ttft_ms / 1000)

        def chunk(delta: Delta, finish: str | None = None) -> ChatChunk:
            return ChatChunk(
                id=response.id,
                created=response.created,
                model=response.model,
                choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish)],
                system_fingerprint=response.system_fingerprint,
            )

        message = response.choices[0].message
        per_token = self._per_token_s()
        if message.tool_calls:
            call = message.tool_calls[0]
            yield chunk(Delta(role="assistant"))
            head = ToolCallDelta(
                index=0,
                id=call.id,
                type="function",
                function=FunctionCallDelta(name=call.function.name, arguments=""),
            )
            yield chunk(Delta(tool_calls=[head]))
            for piece in sim_text.split_for_stream(call.function.arguments):
                args = ToolCallDelta(index=0, function=FunctionCallDelta(arguments=piece))
                yield chunk(Delta(tool_calls=[args]))
        else:
            for i, piece in enumerate(pieces):
                if i and per_token:
                    await asyncio.sleep(per_token)
                yield chunk(
                    Delta(role="assistant", content=piece) if i == 0 else Delta(content=piece)
                )
        yield chunk(Delta(), response.choices[0].finish_reason)
        # Always, as the real adapters ask their upstreams to: proctor needs usage for cost;
        # the server drops this chunk when the client did not ask for it.
        final = chunk(Delta())
        final.choices = []
        final.usage = response.usage
        yield final

    async def embed(self, req: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        self._maybe_fail(deployment.model)
        dims = req.dimensions or self.config.embedding_dims
        data: list[Embedding] = []
        tokens = 0
        for index, item in enumerate(req.inputs):
            text = item if isinstance(item, str) else " ".join(map(str, item))
            tokens += approx_tokens(text) if isinstance(item, str) else len(item)
            vector = sim_text.embedding(text, dims)
            encoded: list[float] | str = vector
            if req.encoding_format == "base64":  # float32 little-endian, as OpenAI sends it
                encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append(Embedding(index=index, embedding=encoded))
        if self.config.ttft_ms > 0:
            await asyncio.sleep(self.config.ttft_ms / 1000)
        return EmbeddingResponse(
            data=data,
            model=f"sim/{deployment.model}",
            usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens),
        )


def _fault(provider: str, kind: str) -> UpstreamError:
    if kind == "timeout":
        return UpstreamTimeout(provider, "simulated timeout")
    if kind == "garbage":
        return UpstreamProtocolError(provider, "simulated malformed response body")
    retry_after = 1.0 if kind == "429" else None
    return UpstreamStatusError(provider, int(kind), "simulated failure", retry_after_s=retry_after)


def _tool_call(req: ChatRequest, rng: random.Random) -> ToolCall | None:
    """Call a tool when asked to, or when the last user message names one."""
    if not req.tools or req.tool_choice == "none":
        return None
    last = req.messages[-1]
    if last.role == "tool":
        return None
    chosen = None
    choice = req.tool_choice
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name")
        chosen = next((t for t in req.tools if t.function.name == wanted), None)
    elif choice == "required":
        chosen = req.tools[0]
    else:
        text = message_text(last).lower()
        chosen = next((t for t in req.tools if t.function.name.lower() in text), None)
    if chosen is None:
        return None
    arguments = sim_text.value_for_schema(chosen.function.parameters or {"type": "object"}, rng)
    return ToolCall(
        id="call_sim" + format(rng.getrandbits(48), "012x"),
        function=FunctionCall(name=chosen.function.name, arguments=json.dumps(arguments)),
    )
