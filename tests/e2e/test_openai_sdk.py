"""The official `openai` SDK against a real proctor server answering with the simulator.

An application should only have to change its base URL: every call here is plain SDK usage.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from typing import Any

import openai
import pydantic
import pytest

from tests.gateway_server import ServerThread, running_gateway, sim_config
from tests.thread_safe_logs import one_line_server_tracebacks

one_line_server_tracebacks()  # see tests/thread_safe_logs.py

pytestmark = pytest.mark.e2e

USER_HI: list[Any] = [{"role": "user", "content": "hi"}]
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
        },
    },
}
FORCE_WEATHER: Any = {"type": "function", "function": {"name": "get_weather"}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with running_gateway(sim_config(tmp_path_factory.mktemp("openai-sdk"))) as running:
        yield running


@pytest.fixture
def client(server: ServerThread) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=server.url + "/v1", api_key="sk-test", max_retries=0, timeout=60
    ) as sdk:
        yield sdk


def async_client(server: ServerThread) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=server.url + "/v1", api_key="sk-test", max_retries=0, timeout=60
    )


# -- chat completions -------------------------------------------------------------------


def test_sync_completion(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="sim-small", messages=USER_HI)
    assert completion.object == "chat.completion"
    assert completion.model == "sim/small"
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content is not None
    assert choice.message.content.startswith("[simulated by sim/small]")
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_max_tokens_truncates_with_finish_reason_length(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="sim-small", messages=USER_HI, max_completion_tokens=3
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens <= 3


def test_stream_without_include_usage_sends_no_usage_chunk(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="sim-small", messages=USER_HI)
    chunks = list(client.chat.completions.create(model="sim-small", messages=USER_HI, stream=True))
    assert chunks, "the stream produced no chunks"
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)
    assert all(len(chunk.choices) == 1 for chunk in chunks), "a usage-only chunk leaked"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == whole.choices[0].message.content


def test_stream_with_include_usage_ends_with_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="sim-small",
            messages=USER_HI,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    *content, last = chunks
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(chunk.usage is None for chunk in content)
    assert content[-1].choices[0].finish_reason == "stop"


def test_stream_helper_accumulates_the_final_completion(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(model="sim-small", messages=USER_HI) as stream:
        for _event in stream:
            pass
        final = stream.get_final_completion()
    content = final.choices[0].message.content
    assert content is not None
    assert content.startswith("[simulated by sim/small]")
    assert final.choices[0].finish_reason == "stop"


async def test_async_completion_and_stream(server: ServerThread) -> None:
    async with async_client(server) as client:
        completion = await client.chat.completions.create(model="sim-small", messages=USER_HI)
        assert completion.choices[0].message.content
        stream = await client.chat.completions.create(
            model="sim-small",
            messages=USER_HI,
            stream=True,
            stream_options={"include_usage": True},
        )
        pieces: list[str] = []
        usage = None
        async for chunk in stream:
            if chunk.choices:
                pieces.append(chunk.choices[0].delta.content or "")
            if chunk.usage is not None:
                usage = chunk.usage
        assert "".join(pieces) == completion.choices[0].message.content
        assert usage is not None
        assert usage.completion_tokens == completion.usage.completion_tokens  # type: ignore[union-attr]


async def test_async_errors_map_to_sdk_exceptions(server: ServerThread) -> None:
    async with async_client(server) as client:
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="no-such-model", messages=USER_HI)
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(model="sim-small", messages=[])


# -- tools ------------------------------------------------------------------------------


def test_forced_tool_call_then_tool_result_gives_text(client: openai.OpenAI) -> None:
    question: list[Any] = [{"role": "user", "content": "What should I wear in Paris today?"}]
    first = client.chat.completions.create(
        model="sim-small", messages=question, tools=[WEATHER_TOOL], tool_choice=FORCE_WEATHER
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    assert len(choice.message.tool_calls) == 1
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    assert isinstance(arguments["city"], str)
    assert arguments["unit"] in ("celsius", "fahrenheit")

    follow_up = [
        *question,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21, "sky": "clear"}'},
    ]
    second = client.chat.completions.create(
        model="sim-small", messages=follow_up, tools=[WEATHER_TOOL]
    )
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.tool_calls is None
    assert second.choices[0].message.content


def test_tool_named_in_the_message_is_called(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="sim-small",
        messages=[{"role": "user", "content": "please call get_weather for Oslo"}],
        tools=[WEATHER_TOOL],
    )
    calls: Any = completion.choices[0].message.tool_calls
    assert calls is not None
    assert calls[0].function.name == "get_weather"


def test_tool_choice_none_answers_with_text(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="sim-small",
        messages=[{"role": "user", "content": "please call get_weather for Oslo"}],
        tools=[WEATHER_TOOL],
        tool_choice="none",
    )
    assert completion.choices[0].message.tool_calls is None
    assert completion.choices[0].message.content


def test_streamed_tool_call_arguments_assemble(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="sim-small",
        messages=[{"role": "user", "content": "weather in Rome?"}],
        tools=[WEATHER_TOOL],
        tool_choice=FORCE_WEATHER,
        stream=True,
    )
    name, call_id, arguments, finish = None, None, "", None
    for chunk in stream:
        delta = chunk.choices[0].delta
        for call in delta.tool_calls or []:
            assert call.index == 0
            call_id = call.id or call_id
            if call.function is not None:
                name = call.function.name or name
                arguments += call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert name == "get_weather"
    assert call_id
    assert set(json.loads(arguments)) == {"city", "unit"}


# -- structured output ------------------------------------------------------------------


def test_response_format_json_object_returns_a_json_object(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="sim-small",
        messages=[{"role": "user", "content": "Reply in JSON please."}],
        response_format={"type": "json_object"},
    )
    content = completion.choices[0].message.content
    assert content is not None
    assert isinstance(json.loads(content), dict)


PERSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "height_m": {"type": "number"},
        "admin": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "role": {"type": "string", "enum": ["viewer", "editor"]},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
            "required": ["city", "zip"],
            "additionalProperties": False,
        },
    },
    "required": ["name", "age", "height_m", "admin", "tags", "role", "address"],
    "additionalProperties": False,
}


def test_response_format_json_schema_matches_the_schema(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="sim-small",
        messages=[{"role": "user", "content": "Make up a person."}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": PERSON_SCHEMA, "strict": True},
        },
    )
    content = completion.choices[0].message.content
    assert content is not None
    person = json.loads(content)
    assert set(person) == set(PERSON_SCHEMA["required"])
    assert isinstance(person["name"], str)
    assert isinstance(person["age"], int)
    assert not isinstance(person["age"], bool)
    assert isinstance(person["height_m"], int | float)
    assert isinstance(person["admin"], bool)
    assert all(isinstance(tag, str) for tag in person["tags"])
    assert person["role"] in ("viewer", "editor")
    assert set(person["address"]) == {"city", "zip"}


class Address(pydantic.BaseModel):
    city: str
    zip: str


class Person(pydantic.BaseModel):
    name: str
    age: int
    tags: list[str]
    address: Address


def test_sdk_parse_with_a_pydantic_model(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(
        model="sim-small",
        messages=[{"role": "user", "content": "Make up a person."}],
        response_format=Person,
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Person)
    assert isinstance(parsed.address, Address)


# -- embeddings -------------------------------------------------------------------------


def test_embedding_single_input(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="sim-embed", input="the quick brown fox")
    assert result.object == "list"
    assert len(result.data) == 1
    vector = result.data[0].embedding
    assert result.data[0].index == 0
    assert len(vector) == 256
    assert all(isinstance(x, float) for x in vector)
    assert abs(sum(x * x for x in vector) - 1.0) < 1e-3  # normalised
    assert result.usage.prompt_tokens > 0


def test_embedding_batch_keeps_order_and_similarity(client: openai.OpenAI) -> None:
    texts = ["the quick brown fox", "the quick brown foxes", "quarterly tax filing deadline"]
    result = client.embeddings.create(model="sim-embed", input=texts, dimensions=64)
    assert [item.index for item in result.data] == [0, 1, 2]
    vectors = [item.embedding for item in result.data]
    assert all(len(v) == 64 for v in vectors)

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])


def test_embedding_base64_encoding_when_asked(client: openai.OpenAI) -> None:
    floats = client.embeddings.create(model="sim-embed", input="hello", encoding_format="float")
    encoded = client.embeddings.create(model="sim-embed", input="hello", encoding_format="base64")
    raw = encoded.data[0].embedding
    assert isinstance(raw, str), "encoding_format=base64 must return a base64 string"
    decoded = struct.unpack(f"<{len(base64.b64decode(raw)) // 4}f", base64.b64decode(raw))
    expected = floats.data[0].embedding
    assert len(decoded) == len(expected)
    assert all(abs(a - b) < 1e-6 for a, b in zip(decoded, expected, strict=True))


# -- models, errors, headers -------------------------------------------------------------


def test_models_list(client: openai.OpenAI) -> None:
    models = list(client.models.list())
    assert {model.id for model in models} == {"sim-small", "sim-embed"}
    assert all(model.object == "model" for model in models)


def test_unknown_model_is_not_found_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-nonexistent", messages=USER_HI)
    error = caught.value
    assert error.status_code == 404
    assert error.code == "model_not_found"
    assert error.param == "model"
    assert "gpt-nonexistent" in error.message


def test_unknown_embedding_model_is_not_found_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="embed-nonexistent", input="hi")


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": USER_HI, "max_tokens": 0}, "max_tokens"),
        ({"messages": USER_HI, "temperature": 7}, "temperature"),
        ({"messages": [{"role": "user", "content": [{"text": "no type"}]}]}, "messages[0]"),
    ],
)
def test_bad_input_is_bad_request_error(
    client: openai.OpenAI, kwargs: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="sim-small", **kwargs)
    error = caught.value
    assert error.status_code == 400
    assert error.type == "invalid_request_error"
    assert error.param is not None
    assert error.param.startswith(param)


def test_empty_embedding_input_is_bad_request_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="sim-embed", input="")
    assert caught.value.param == "input"


def test_unknown_fields_pass_through(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="sim-small", messages=USER_HI, extra_body={"vendor_knob": {"depth": 3}}
    )
    assert completion.choices[0].message.content


def _check_contract_headers(headers: Any) -> None:
    assert headers["x-request-id"].startswith("req_")
    assert headers["x-proctor-model"] == "sim/small"
    assert headers["x-proctor-attempts"] == "1"
    timing = headers["server-timing"]
    for stage in ("identify", "route", "call", "total"):
        assert f"{stage};dur=" in timing


def test_raw_response_headers(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="sim-small", messages=USER_HI)
    _check_contract_headers(raw.headers)
    completion = raw.parse()
    assert completion.choices[0].message.content


def test_raw_response_headers_on_a_stream(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="sim-small", messages=USER_HI, stream=True
    )
    _check_contract_headers(raw.headers)
    assert raw.headers["content-type"].startswith("text/event-stream")
    chunks = list(raw.parse())
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_request_ids_are_unique(client: openai.OpenAI) -> None:
    ids = {
        client.chat.completions.with_raw_response.create(
            model="sim-small", messages=USER_HI
        ).headers["x-request-id"]
        for _ in range(5)
    }
    assert len(ids) == 5


def test_error_responses_carry_a_request_id(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="nope", messages=USER_HI)
    assert caught.value.response.headers["x-request-id"].startswith("req_")


def test_served_model_header_matches_the_body(client: openai.OpenAI) -> None:
    raw = client.embeddings.with_raw_response.create(model="sim-embed", input="x")
    assert raw.headers["x-proctor-model"] == "sim/embed"
    assert raw.parse().model == "sim/embed"
