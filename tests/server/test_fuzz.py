"""Property tests: thousands of generated bodies against the real running server.

Whatever arrives, every answer is a 200 or a 4xx (never a 5xx), an error body parses as JSON
in the endpoint's own error shape, and the call comes back within the timeout. One server and
one keep-alive connection serve the whole module, as a busy client would use them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.gateway_server import ServerThread, running_gateway, sim_config
from tests.thread_safe_logs import one_line_server_tracebacks

one_line_server_tracebacks()  # see tests/thread_safe_logs.py

CHAT = "/v1/chat/completions"
EMBED = "/v1/embeddings"
MESSAGES = "/v1/messages"
ENDPOINTS = (CHAT, EMBED, MESSAGES)
JSON_HEADERS = {"content-type": "application/json"}

_FUZZ = settings(
    deadline=None,
    database=None,
    # No "explain" phase: its coverage report is noise next to the failing example.
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)


def fuzz(examples: int) -> settings:
    return settings(_FUZZ, max_examples=examples)


class Gateway:
    """The server under test and a keep-alive client to it."""

    def __init__(self, server: ServerThread) -> None:
        self.server = server
        self.client = self._new_client()

    def _new_client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url,
            timeout=httpx.Timeout(30.0),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    def post(self, path: str, body: bytes) -> httpx.Response:
        try:
            reply = self.client.post(path, content=body, headers=JSON_HEADERS)
        except httpx.HTTPError as exc:
            # A fresh connection for the next example, so one failure is reported once.
            self.client.close()
            self.client = self._new_client()
            raise AssertionError(f"{path}: no answer ({type(exc).__name__}: {exc})") from exc
        if reply.status_code >= 500:
            # Servers may drop a connection after an internal error; do not blame the next one.
            self.client.close()
            self.client = self._new_client()
        return reply

    def close(self) -> None:
        self.client.close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    config = sim_config(
        tmp_path_factory.mktemp("fuzz"),
        # Small replies keep thousands of examples fast; the path through the gateway is the
        # same whatever the length.
        providers={"sim": {"type": "sim", "reply_tokens": 12}},
        store={"url": f"sqlite:///{tmp_path_factory.mktemp('fuzz-db') / 'p.db'}"},
    )
    with running_gateway(config) as server:
        gateway = Gateway(server)
        yield gateway
        gateway.close()


# -- the property ------------------------------------------------------------------------


def check_reply(path: str, reply: httpx.Response) -> None:
    status = reply.status_code
    assert status == 200 or 400 <= status < 500, f"{path} answered {status}: {reply.text[:500]}"
    if status != 200:
        check_error_shape(path, reply)
    elif reply.headers.get("content-type", "").startswith("text/event-stream"):
        check_stream(path, reply.text)
    else:
        body = reply.json()
        assert isinstance(body, dict)
        expected = {CHAT: "choices", EMBED: "data", MESSAGES: "content"}[path]
        assert expected in body, body


def check_error_shape(path: str, reply: httpx.Response) -> None:
    try:
        body = reply.json()
    except ValueError:
        raise AssertionError(
            f"{path} {reply.status_code} is not JSON: {reply.text[:300]!r}"
        ) from None
    assert isinstance(body, dict), body
    if path == MESSAGES:
        assert body.get("type") == "error", body
        error = body.get("error")
        assert isinstance(error, dict), body
        assert isinstance(error.get("type"), str), body
        assert isinstance(error.get("message"), str), body
        assert error["message"], body
    else:
        assert set(body) == {"error"}, body
        error = body["error"]
        assert isinstance(error, dict), body
        assert set(error) == {"message", "type", "param", "code"}, body
        assert isinstance(error["message"], str), body
        assert error["message"], body
        assert isinstance(error["type"], str), body
        assert error["param"] is None or isinstance(error["param"], str), body
        assert error["code"] is None or isinstance(error["code"], str), body


def check_stream(path: str, text: str) -> None:
    """Every event parses, none is an error, and the stream ends the way its API ends it."""
    events = [block for block in text.split("\n\n") if block.strip()]
    assert events, "empty stream"
    for block in events:
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        assert fields.get("event") != "error", block
        data = fields.get("data")
        assert data is not None, block
        if data == "[DONE]":
            continue
        parsed = json.loads(data)
        if path == MESSAGES:
            assert parsed.get("type") != "error", block
        else:
            assert "error" not in parsed, block
    if path == CHAT:
        assert events[-1] == "data: [DONE]", events[-1]
    else:
        assert events[-1].startswith("event: message_stop"), events[-1]


def roundtrip(gateway: Gateway, path: str, body: bytes) -> None:
    check_reply(path, gateway.post(path, body))


def encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


# -- strategies ---------------------------------------------------------------------------

# Integers stay where a careless allocation would still be survivable on a test machine,
# plus the extremes that overflow 32/64-bit fields.
integers = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.sampled_from([0, -1, 1, 2**31, 2**63, -(2**63), 2**64, 10**12, 10**30]),
)
WORDS = [
    *"user assistant system tool function developer text image_url tool_use tool_result "
    "auto none required any sim-small sim-embed json_object json_schema object string "
    "array integer float base64".split(),
    "",
    "\x00",
    "\ud800x",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    integers,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(WORDS),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=12), inner, max_size=4),
    ),
    max_leaves=20,
)

CHAT_KEYS = [
    "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
    "temperature", "top_p", "n", "stop", "seed", "user", "tools", "tool_choice",
    "parallel_tool_calls", "response_format", "presence_penalty", "frequency_penalty",
    "metadata", "extra",
]  # fmt: skip
EMBED_KEYS = ["model", "input", "encoding_format", "dimensions", "user", "extra"]
MESSAGES_KEYS = [
    "model", "messages", "max_tokens", "system", "stream", "temperature", "top_p", "top_k",
    "stop_sequences", "tools", "tool_choice", "metadata", "thinking", "service_tier",
]  # fmt: skip
KEYS = {CHAT: CHAT_KEYS, EMBED: EMBED_KEYS, MESSAGES: MESSAGES_KEYS}


def wrong_typed(path: str) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the endpoint's keys, each present or not, holding any JSON value."""
    return st.fixed_dictionaries({}, optional={key: json_values for key in KEYS[path]})


TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["city"],
}
VALID_BODIES: dict[str, list[dict[str, Any]]] = {
    CHAT: [
        {"model": "sim-small", "messages": [{"role": "user", "content": "hi"}]},
        {
            "model": "sim-small",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
            ],
            "max_tokens": 20,
            "temperature": 0.5,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        {
            "model": "sim-small",
            "messages": [
                {"role": "user", "content": "call get_weather"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"x"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {"role": "user", "content": "and tomorrow, get_weather?"},
            ],
            "tools": [
                {
                    "type": "function",
                    "function": {"name": "get_weather", "parameters": TOOL_SCHEMA},
                }
            ],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        },
        {
            "model": "sim-small",
            "messages": [{"role": "user", "content": "a person"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "p", "schema": TOOL_SCHEMA},
            },
            "stream": False,
        },
    ],
    EMBED: [
        {"model": "sim-embed", "input": "hello"},
        {"model": "sim-embed", "input": ["a", "b c"], "dimensions": 8},
        {"model": "sim-embed", "input": [[1, 2, 3]], "encoding_format": "float"},
    ],
    MESSAGES: [
        {"model": "sim-small", "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]},
        {
            "model": "sim-small",
            "max_tokens": 32,
            "system": [{"type": "text", "text": "be brief"}],
            "stream": True,
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hello"}]},
                {"role": "assistant", "content": "hi"},
                {"role": "user", "content": "weather?"},
            ],
        },
        {
            "model": "sim-small",
            "max_tokens": 64,
            "tools": [{"name": "get_weather", "input_schema": TOOL_SCHEMA}],
            "tool_choice": {"type": "tool", "name": "get_weather"},
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "tu_1", "name": "get_weather", "input": {}}
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "ok"}],
                },
            ],
        },
    ],
}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _parent(tree: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        tree = tree[step]
    return tree


@st.composite
def mutated(draw: st.DrawFn, path: str) -> dict[str, Any]:
    """A valid request with one to three things wrong with it."""
    body: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(VALID_BODIES[path])))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = [p for p in _paths(body) if p]
        if not paths:
            break
        target = draw(st.sampled_from(paths))
        parent = _parent(body, target)
        action = draw(st.sampled_from(["replace", "delete", "insert", "duplicate"]))
        if action == "replace":
            parent[target[-1]] = draw(json_values)
        elif action == "delete":
            del parent[target[-1]]
        elif action == "insert" and isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(json_values)
        elif isinstance(parent, list):
            parent.insert(target[-1], copy.deepcopy(parent[target[-1]]))
        else:
            parent[target[-1]] = [parent[target[-1]]]
    return body


@st.composite
def corrupted_bytes(draw: st.DrawFn, path: str) -> bytes:
    """A valid body with random (often not UTF-8) bytes spliced in, or cut short."""
    raw = encode(draw(st.sampled_from(VALID_BODIES[path])))
    at = draw(st.integers(min_value=0, max_value=len(raw)))
    how = draw(st.sampled_from(["splice", "overwrite", "truncate"]))
    if how == "truncate":
        return raw[:at]
    junk = draw(
        st.one_of(
            st.binary(min_size=1, max_size=8),
            st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80", b"\x00", b"\\u"]),
        )
    )
    if how == "splice":
        return raw[:at] + junk + raw[at:]
    return raw[:at] + junk + raw[at + len(junk) :]


# -- the tests ----------------------------------------------------------------------------

endpoints = pytest.mark.parametrize("path", ENDPOINTS)


@endpoints
@fuzz(300)
@given(value=json_values)
def test_any_json_value(gateway: Gateway, path: str, value: Any) -> None:
    roundtrip(gateway, path, encode(value))


@endpoints
@fuzz(500)
@given(data=st.data())
def test_right_keys_wrong_types(gateway: Gateway, path: str, data: st.DataObject) -> None:
    roundtrip(gateway, path, encode(data.draw(wrong_typed(path))))


@endpoints
@fuzz(700)
@given(data=st.data())
def test_mutated_valid_requests(gateway: Gateway, path: str, data: st.DataObject) -> None:
    roundtrip(gateway, path, encode(data.draw(mutated(path))))


@endpoints
@fuzz(200)
@given(body=st.binary(max_size=200))
def test_random_bytes(gateway: Gateway, path: str, body: bytes) -> None:
    roundtrip(gateway, path, body)


@endpoints
@fuzz(300)
@given(data=st.data())
def test_corrupted_bytes(gateway: Gateway, path: str, data: st.DataObject) -> None:
    roundtrip(gateway, path, data.draw(corrupted_bytes(path)))


@endpoints
def test_valid_bodies_are_answered(gateway: Gateway, path: str) -> None:
    """The seeds of the mutations are themselves good requests."""
    for body in VALID_BODIES[path]:
        reply = gateway.post(path, encode(body))
        assert reply.status_code == 200, reply.text
        check_reply(path, reply)
