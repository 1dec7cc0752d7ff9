"""OpenAI-specific behaviour of the OpenAI-compatible adapter, its profiles, and Azure."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from proctor.config import AzureProviderConfig, ConfigError, OpenAIProviderConfig
from proctor.errors import UpstreamProtocolError, UpstreamStatusError
from proctor.providers import create
from proctor.providers.azure import AzureProvider
from proctor.providers.openai import OpenAIProvider, chat_body, in_band_error
from proctor.providers.profiles import PROFILE_NAMES, PROFILES
from proctor.wire.types import ChatChunk, ChatRequest, EmbeddingRequest, Message, StreamOptions
from tests.fakes.upstream import FakeUpstream, answers
from tests.providers.adapters import DEPLOYMENT, collect, running, streamed_text

PROMPT = "hello there"


def chat(**fields: Any) -> ChatRequest:
    return ChatRequest(model="chat", messages=[Message(role="user", content=PROMPT)], **fields)


def openai(fake: FakeUpstream, **over: Any) -> OpenAIProvider:
    over.setdefault("api_key", "sk-test")
    over.setdefault("base_url", f"{fake.url}/v1")
    return OpenAIProvider("openai", OpenAIProviderConfig(**over))


def body_of(req: ChatRequest, profile: str, *, stream: bool = False) -> dict[str, Any]:
    return msgspec.json.decode(chat_body(req, "m", PROFILES[profile], stream=stream))  # type: ignore[no-any-return]


async def test_extra_fields_pass_through_verbatim_and_metadata_stays(
    fake_upstream: FakeUpstream,
) -> None:
    request = chat(metadata={"feature": "search"}, user="u-1", temperature=0.5)
    request.extra = {"reasoning_effort": "low", "logit_bias": {"50256": -100}, "store": False}
    async with running(openai(fake_upstream)) as provider:
        await provider.complete(request, DEPLOYMENT)
    body = fake_upstream.last.body
    assert body["model"] == DEPLOYMENT.model
    assert body["reasoning_effort"] == "low"
    assert body["logit_bias"] == {"50256": -100}
    assert body["store"] is False
    assert (body["user"], body["temperature"]) == ("u-1", 0.5)
    assert "metadata" not in body
    assert "stream_options" not in body
    assert not body.get("stream")


async def test_auth_organization_and_configured_headers(fake_upstream: FakeUpstream) -> None:
    provider = openai(fake_upstream, organization="org-1", headers={"x-team": "search"})
    async with running(provider):
        await provider.complete(chat(), DEPLOYMENT)
    headers = fake_upstream.last.headers
    assert headers["authorization"] == "Bearer sk-test"
    assert headers["openai-organization"] == "org-1"
    assert headers["x-team"] == "search"
    assert headers["content-type"] == "application/json"
    assert fake_upstream.last.path == "/v1/chat/completions"


async def test_a_wrong_key_is_the_upstreams_401(fake_upstream: FakeUpstream) -> None:
    fake_upstream.api_key = "sk-right"
    async with running(openai(fake_upstream, api_key="sk-wrong")) as provider:
        with pytest.raises(UpstreamStatusError) as caught:
            await provider.complete(chat(), DEPLOYMENT)
    assert caught.value.upstream_status == 401
    assert "Incorrect API key" in caught.value.message


async def test_stream_always_asks_for_usage(fake_upstream: FakeUpstream) -> None:
    async with running(openai(fake_upstream)) as provider:
        chunks = await collect(provider, chat(stream=True))
    assert fake_upstream.last.body["stream"] is True
    assert fake_upstream.last.body["stream_options"] == {"include_usage": True}
    assert streamed_text(chunks) == answers.answer_text(PROMPT)
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None


async def test_usage_details_are_decoded(fake_upstream: FakeUpstream) -> None:
    fake_upstream.cached_tokens = 3
    fake_upstream.reasoning_tokens = 7
    async with running(openai(fake_upstream)) as provider:
        response = await provider.complete(chat(), DEPLOYMENT)
    usage = response.usage
    assert usage is not None
    assert (usage.cached_tokens, usage.reasoning_tokens) == (3, 7)
    assert usage.completion_tokens == len(answers.pieces(answers.answer_text(PROMPT))) + 7


async def test_output_limit_truncates_with_length(fake_upstream: FakeUpstream) -> None:
    async with running(openai(fake_upstream)) as provider:
        response = await provider.complete(chat(max_completion_tokens=2), DEPLOYMENT)
    assert response.choices[0].finish_reason == "length"
    assert fake_upstream.last.body["max_completion_tokens"] == 2
    assert "max_tokens" not in fake_upstream.last.body


async def test_a_dropped_stream_delivers_what_arrived_then_fails(
    fake_upstream: FakeUpstream,
) -> None:
    provider = openai(fake_upstream)
    received: list[ChatChunk] = []

    async def consume() -> None:
        async for chunk in provider.stream(chat(stream=True), DEPLOYMENT):
            received.append(chunk)

    async with running(provider):
        fake_upstream.fail_next("drop", after=3)
        with pytest.raises(UpstreamProtocolError):
            await consume()
    # The role chunk, then the first two words.
    assert streamed_text(received) == "".join(answers.pieces(answers.answer_text(PROMPT))[:2])


async def test_queued_faults_are_consumed_in_order(fake_upstream: FakeUpstream) -> None:
    fake_upstream.fail_next("503", retry_after="1")
    fake_upstream.fail_next("500", path="/v1/embeddings")  # never hit by chat requests
    async with running(openai(fake_upstream)) as provider:
        with pytest.raises(UpstreamStatusError) as caught:
            await provider.complete(chat(), DEPLOYMENT)
        assert (caught.value.upstream_status, caught.value.retry_after_s) == (503, 1.0)
        response = await provider.complete(chat(), DEPLOYMENT)
        assert response.choices[0].message.content == answers.answer_text(PROMPT)
        with pytest.raises(UpstreamStatusError):
            await provider.embed(EmbeddingRequest(model="e", input="x"), DEPLOYMENT)


async def test_base64_embeddings_pass_through(fake_upstream: FakeUpstream) -> None:
    request = EmbeddingRequest(model="e", input="x", encoding_format="base64", dimensions=4)
    async with running(openai(fake_upstream)) as provider:
        response = await provider.embed(request, DEPLOYMENT)
    assert isinstance(response.data[0].embedding, str)
    assert fake_upstream.last.body == {
        "model": DEPLOYMENT.model,
        "input": "x",
        "encoding_format": "base64",
        "dimensions": 4,
    }


def test_an_error_inside_a_stream_keeps_its_status() -> None:
    error = in_band_error("vllm", '{"error": {"message": "too long", "code": 400}}')
    assert error is not None
    assert (error.upstream_status, error.message) == (400, "provider 'vllm': HTTP 400: too long")
    other = in_band_error("p", '{"error": {"message": "oops", "type": "server_error"}}')
    assert other is not None
    assert other.upstream_status == 500
    assert in_band_error("p", '{"choices": []}') is None


# -- profiles ------------------------------------------------------------------------------


def test_profile_names() -> None:
    assert PROFILE_NAMES[0] == "openai"
    expected = {"vllm", "ollama", "llamacpp", "lmstudio", "groq", "together", "mistral"}
    assert expected | {"deepseek", "openrouter", "compatible"} <= set(PROFILE_NAMES)


def test_openai_profile_forwards_both_limit_names_as_sent() -> None:
    body = body_of(chat(max_tokens=5, max_completion_tokens=9), "openai")
    assert (body["max_tokens"], body["max_completion_tokens"]) == (5, 9)


def test_servers_that_know_only_max_tokens_get_it() -> None:
    body = body_of(chat(max_completion_tokens=9), "vllm")
    assert body["max_tokens"] == 9
    assert "max_completion_tokens" not in body


def test_groq_gets_max_completion_tokens_and_loses_logprobs() -> None:
    request = chat(max_tokens=9)
    request.extra = {"logprobs": True, "service_tier": "auto"}
    body = body_of(request, "groq")
    assert body["max_completion_tokens"] == 9
    assert "max_tokens" not in body
    assert "logprobs" not in body
    assert body["service_tier"] == "auto"


def test_mistral_renames_seed_drops_user_and_never_gets_stream_options() -> None:
    body = body_of(chat(seed=42, user="u-1"), "mistral", stream=True)
    assert body["random_seed"] == 42
    assert "seed" not in body
    assert "user" not in body
    assert "stream_options" not in body
    assert body["stream"] is True


def test_stream_options_are_never_sent_without_stream() -> None:
    request = chat(stream=True, stream_options=StreamOptions(include_usage=True))
    body = body_of(request, "vllm", stream=False)
    assert "stream_options" not in body
    assert "stream" not in body


def test_profile_default_base_url_and_key_rules() -> None:
    vllm = OpenAIProvider("local", OpenAIProviderConfig(profile="vllm"))
    assert vllm.base_url == "http://127.0.0.1:8000/v1"
    # A key is only demanded when talking to the hosted service itself.
    elsewhere = OpenAIProviderConfig(base_url="http://127.0.0.1:11434/v1")
    assert OpenAIProvider("local", elsewhere).base_url == "http://127.0.0.1:11434/v1"
    with pytest.raises(ConfigError, match=r"\$\.providers\.openai\.api_key"):
        OpenAIProvider("openai", OpenAIProviderConfig())
    with pytest.raises(ConfigError, match=r"\$\.providers\.x\.base_url"):
        OpenAIProvider("x", OpenAIProviderConfig(profile="compatible"))


def test_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown OpenAI-compatible profile 'vlm'"):
        create("x", OpenAIProviderConfig(profile="vlm", base_url="http://h/v1"))


async def test_a_profile_talks_to_the_fake_without_a_key(fake_upstream: FakeUpstream) -> None:
    config = OpenAIProviderConfig(profile="ollama", base_url=f"{fake_upstream.url}/v1")
    async with running(create("ollama", config)) as provider:
        response = await provider.complete(chat(max_completion_tokens=50), DEPLOYMENT)
    assert response.choices[0].message.content == answers.answer_text(PROMPT)
    assert "authorization" not in fake_upstream.last.headers
    assert fake_upstream.last.body["max_tokens"] == 50


# -- Azure ---------------------------------------------------------------------------------


def azure(fake: FakeUpstream, **over: Any) -> AzureProvider:
    over.setdefault("api_key", "azure-key")
    return AzureProvider("azure", AzureProviderConfig(base_url=f"{fake.url}/", **over))


async def test_azure_urls_and_key(fake_upstream: FakeUpstream) -> None:
    async with running(azure(fake_upstream, api_version="2024-10-21")) as provider:
        await provider.complete(chat(), DEPLOYMENT)
        chat_request = fake_upstream.last
        await provider.embed(EmbeddingRequest(model="e", input="x"), DEPLOYMENT)
        embed_request = fake_upstream.last
    assert chat_request.path == f"/openai/deployments/{DEPLOYMENT.model}/chat/completions"
    assert embed_request.path == f"/openai/deployments/{DEPLOYMENT.model}/embeddings"
    for recorded in (chat_request, embed_request):
        assert recorded.query == {"api-version": "2024-10-21"}
        assert recorded.headers["api-key"] == "azure-key"
        assert "authorization" not in recorded.headers


async def test_azure_errors_come_back_with_their_status(fake_upstream: FakeUpstream) -> None:
    fake_upstream.api_key = "azure-key"
    async with running(azure(fake_upstream, api_key="wrong")) as provider:
        with pytest.raises(UpstreamStatusError) as caught:
            await provider.complete(chat(), DEPLOYMENT)
    assert caught.value.upstream_status == 401
    async with running(azure(fake_upstream, api_version="latest")) as provider:
        with pytest.raises(UpstreamStatusError) as caught:
            await provider.complete(chat(), DEPLOYMENT)
    assert caught.value.upstream_status == 404


def test_config_profile_names_match_the_profiles_defined() -> None:
    from typing import get_args

    from proctor.config import ProfileName
    from proctor.providers.profiles import PROFILE_NAMES

    assert set(get_args(ProfileName)) == set(PROFILE_NAMES)
