"""Guardrails seen through the official `openai` and `anthropic` SDKs: a real proctor server
in front of the fake upstream, so the tests can check what the provider received."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from proctor import config as config_mod
from proctor.testing import answers
from proctor.testing.upstream import FakeUpstream
from tests.gateway_server import ServerThread, running_gateway
from tests.thread_safe_logs import one_line_server_tracebacks

one_line_server_tracebacks()  # see tests/thread_safe_logs.py

pytestmark = pytest.mark.e2e

EMAIL = "jane.doe@example.org"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
LONG = " ".join(f"word{i}" for i in range(60))
# Feature "out": the key may reach the model but not come back; "refuse": refusals, not 400s.
GUARDS: dict[str, Any] = {
    "features": {
        "out": {"secrets": {"action": "flag"}, "output_secrets": {"action": "block"}},
        "refuse": {"block_response": "refusal", "refusal_message": "I can't take keys."},
    }
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[ServerThread]:
    tmp: Path = tmp_path_factory.mktemp("guards-sdk")
    config = config_mod.from_dict(
        {
            "store": {"url": f"sqlite:///{tmp / 'proctor.db'}", "flush_interval_ms": 20},
            "providers": {
                "up": {"type": "openai", "api_key": "k", "base_url": upstream.url + "/v1"}
            },
            "models": {"chat": {"deployments": [{"provider": "up", "model": "fake-chat"}]}},
            "guards": GUARDS,
        }
    )
    with running_gateway(config) as running:
        yield running


@pytest.fixture
def oa(server: ServerThread, upstream: FakeUpstream) -> Iterator[openai.OpenAI]:
    upstream.reset()
    with openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0, timeout=60) as sdk:
        yield sdk


@pytest.fixture
def an(server: ServerThread, upstream: FakeUpstream) -> Iterator[anthropic.Anthropic]:
    upstream.reset()
    with anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0, timeout=60) as sdk:
        yield sdk


def _sent(upstream: FakeUpstream) -> str:
    return "\n".join(r.raw.decode() for r in upstream.requests)


def _feature(name: str) -> dict[str, str]:
    return {"x-proctor-feature": name}


def test_openai_placeholders_round_trip_with_header(
    oa: openai.OpenAI, upstream: FakeUpstream
) -> None:
    prompt = f"Please send the invoice to {EMAIL}."
    raw = oa.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": prompt}]
    )
    assert raw.headers["x-proctor-guard"].startswith("pii=redact")
    assert raw.parse().choices[0].message.content == answers.answer_text(prompt)
    assert EMAIL not in _sent(upstream)
    assert "[EMAIL_1]" in _sent(upstream)


def test_openai_stream_round_trip(oa: openai.OpenAI, upstream: FakeUpstream) -> None:
    prompt = f"{LONG} reach me at {EMAIL} or {EMAIL.replace('jane', 'john')} thanks"
    stream = oa.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": prompt}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == answers.answer_text(prompt)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert EMAIL not in _sent(upstream)


def test_openai_block_is_a_400_in_openai_shape(oa: openai.OpenAI, upstream: FakeUpstream) -> None:
    with pytest.raises(openai.BadRequestError) as blocked:
        oa.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": f"use {AWS_KEY}"}]
        )
    error = blocked.value
    assert error.status_code == 400
    assert error.code == "content_policy_violation"
    assert error.type == "invalid_request_error"
    assert "`secrets`" in error.message
    assert AWS_KEY not in error.message
    assert error.response.headers["x-proctor-guard"] == "secrets=block"
    assert upstream.requests == []


def test_anthropic_block_is_a_400_in_anthropic_shape(
    an: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    with pytest.raises(anthropic.BadRequestError) as blocked:
        an.messages.create(
            model="chat", max_tokens=64, messages=[{"role": "user", "content": f"use {AWS_KEY}"}]
        )
    assert blocked.value.status_code == 400
    body: Any = blocked.value.body
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "`secrets`" in body["error"]["message"]
    assert upstream.requests == []


def test_refusal_instead_of_an_error_in_both_shapes(
    oa: openai.OpenAI, an: anthropic.Anthropic
) -> None:
    messages: Any = [{"role": "user", "content": f"use {AWS_KEY}"}]
    completion = oa.chat.completions.create(
        model="chat", messages=messages, extra_headers=_feature("refuse")
    )
    assert completion.choices[0].finish_reason == "content_filter"
    assert completion.choices[0].message.content == "I can't take keys."
    message = an.messages.create(
        model="chat", max_tokens=64, messages=messages, extra_headers=_feature("refuse")
    )
    assert message.stop_reason == "refusal"
    assert message.model == "chat"  # the model asked for, though no deployment answered
    assert message.content[0].type == "text"
    assert message.content[0].text == "I can't take keys."


def test_openai_stream_stopped_mid_way_ends_cleanly(oa: openai.OpenAI) -> None:
    prompt = f"{LONG} {AWS_KEY} and the rest of it"
    stream = oa.chat.completions.create(
        model="chat",
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        extra_headers=_feature("out"),
    )
    chunks = list(stream)  # no exception: the stream ends as a stream should
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    assert text.startswith(answers.ANSWER_PREFIX)
    assert "word30" in text
    assert AWS_KEY[:8] not in text


def test_anthropic_stream_stopped_mid_way_ends_cleanly(an: anthropic.Anthropic) -> None:
    prompt = f"{LONG} {AWS_KEY} and the rest of it"
    with an.messages.stream(
        model="chat",
        max_tokens=512,
        messages=[{"role": "user", "content": prompt}],
        extra_headers=_feature("out"),
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert final.stop_reason == "refusal"
    assert text.startswith(answers.ANSWER_PREFIX)
    assert AWS_KEY[:8] not in text


def test_anthropic_stream_round_trip(an: anthropic.Anthropic, upstream: FakeUpstream) -> None:
    prompt = f"{LONG} my address is {EMAIL}"
    with an.messages.stream(
        model="chat", max_tokens=512, messages=[{"role": "user", "content": prompt}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == answers.answer_text(prompt)
    assert final.stop_reason == "end_turn"
    assert EMAIL not in _sent(upstream)
