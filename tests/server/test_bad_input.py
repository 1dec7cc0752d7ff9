"""Bad input never crashes anything: a 4xx in the caller's own error shape, saying what is wrong.

OpenAI's shape on /v1/chat/completions and /v1/embeddings:
    {"error": {"message", "type", "param", "code"}}
Anthropic's shape on /v1/messages:
    {"type": "error", "error": {"type", "message"}}
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.gateway_server import ServerThread, running_gateway, sim_config
from tests.thread_safe_logs import one_line_server_tracebacks

one_line_server_tracebacks()  # see tests/thread_safe_logs.py

CHAT = "/v1/chat/completions"
EMBED = "/v1/embeddings"
MESSAGES = "/v1/messages"
ENDPOINTS = (CHAT, EMBED, MESSAGES)

USER_HI: list[Any] = [{"role": "user", "content": "hi"}]
VALID: dict[str, dict[str, Any]] = {
    CHAT: {"model": "sim-small", "messages": USER_HI},
    EMBED: {"model": "sim-embed", "input": "hi"},
    MESSAGES: {"model": "sim-small", "max_tokens": 32, "messages": USER_HI},
}
TIMEOUT = httpx.Timeout(30.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with running_gateway(sim_config(tmp_path_factory.mktemp("bad-input"))) as running:
        yield running


@pytest.fixture
def http(server: ServerThread) -> Iterator[httpx.Client]:
    # One client per test: a failure in one test must not leave a dead connection to the next.
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        yield client


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    config = sim_config(tmp_path_factory.mktemp("small-limit"), server={"max_body_bytes": 1000})
    with running_gateway(config) as running:
        yield running


def post(http: httpx.Client, path: str, body: Any, **kwargs: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.post(path, content=content, headers={"content-type": "application/json"}, **kwargs)


def with_(path: str, **fields: Any) -> dict[str, Any]:
    return {**VALID[path], **fields}


def without(path: str, field: str) -> dict[str, Any]:
    return {k: v for k, v in VALID[path].items() if k != field}


def _mentions(message: str, fragments: tuple[str, ...]) -> None:
    assert message.strip(), "the error message is empty"
    for fragment in fragments:
        assert fragment.lower() in message.lower(), f"{fragment!r} not in {message!r}"


def openai_error(reply: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    """Check the OpenAI error envelope; returns the inner `error` object."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str)
    assert isinstance(error["type"], str)
    assert error["param"] is None or isinstance(error["param"], str)
    assert error["code"] is None or isinstance(error["code"], str)
    _mentions(error["message"], fragments)
    return dict(error)


def anthropic_error(reply: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    """Check the Anthropic error envelope; returns the inner `error` object."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert body["type"] == "error", body
    assert set(body) == {"type", "error"}, body
    error = body["error"]
    assert isinstance(error["type"], str)
    assert isinstance(error["message"], str)
    _mentions(error["message"], fragments)
    return dict(error)


def error_of(path: str) -> Callable[..., dict[str, Any]]:
    return anthropic_error if path == MESSAGES else openai_error


def check_error(reply: httpx.Response, path: str, status: int, *fragments: str) -> dict[str, Any]:
    return error_of(path)(reply, status, *fragments)


# -- the body is not a JSON object -------------------------------------------------------


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "body",
    [
        b'{"model": "sim-small", "messages": [',
        b"{model: sim-small}",
        b'{"model": "sim-small",}',
        b"{'model': 'sim-small'}",
        b'{"model": NaN}',
        b"}",
    ],
    ids=["truncated", "unquoted", "trailing-comma", "single-quotes", "nan", "close-brace"],
)
def test_malformed_json(http: httpx.Client, path: str, body: bytes) -> None:
    error = check_error(post(http, path, body), path, 400, "JSON")
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"42", b"null", b"true", b"[]"])
def test_non_object_json(http: httpx.Client, path: str, body: bytes) -> None:
    check_error(post(http, path, body), path, 400, "object")


@pytest.mark.parametrize("path", ENDPOINTS)
def test_empty_body(http: httpx.Client, path: str) -> None:
    check_error(post(http, path, b""), path, 400, "empty")


@pytest.mark.parametrize("path", ENDPOINTS)
def test_whitespace_body(http: httpx.Client, path: str) -> None:
    check_error(post(http, path, b"  \n\t "), path, 400)


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe\x00\x01", b"\x80\x81\x82", b"\xc3\x28{}", b"\x00" * 16],
    ids=["bom-like", "continuations", "bad-2-byte", "nul"],
)
def test_invalid_utf8_bytes(http: httpx.Client, path: str, body: bytes) -> None:
    check_error(post(http, path, body), path, 400)


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("bad", [b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80"])
def test_invalid_utf8_inside_a_json_string(http: httpx.Client, path: str, bad: bytes) -> None:
    # A well-formed JSON document whose string holds bytes that are not UTF-8.
    body = json.dumps(VALID[path]).encode().replace(b'"hi"', b'"h' + bad + b'i"')
    assert bad in body
    error = check_error(post(http, path, body), path, 400)
    assert "utf-8" in error["message"].lower() or "json" in error["message"].lower()


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("depth", [2_000, 100_000])
def test_deeply_nested_json(http: httpx.Client, path: str, depth: int) -> None:
    body = b'{"x": ' + b"[" * depth + b"]" * depth + b"}"
    check_error(post(http, path, body), path, 400)


# -- wrong types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("model", 5, "model"),
        ("model", None, "model"),
        ("model", ["sim-small"], "model"),
        ("messages", "hi", "messages"),
        ("messages", {"role": "user"}, "messages"),
        ("messages", [5], "messages[0]"),
        ("messages", [{"role": 7, "content": "x"}], "messages[0].role"),
        ("messages", [{"role": "wizard", "content": "x"}], "messages[0].role"),
        ("messages", [{"content": "x"}], "messages[0]"),
        ("messages", [{"role": "user", "content": 5}], "messages[0].content"),
        ("messages", [{"role": "user", "content": [1]}], "messages[0].content"),
        ("max_tokens", "ten", "max_tokens"),
        ("max_tokens", 1.5, "max_tokens"),
        ("max_tokens", True, "max_tokens"),
        ("temperature", "hot", "temperature"),
        ("temperature", 5, "temperature"),
        ("top_p", -1, "top_p"),
        ("n", 0, "n"),
        ("stream", "yes", "stream"),
        ("stream_options", 5, "stream_options"),
        ("stop", [1], "stop"),
        ("tools", {"name": "x"}, "tools"),
        ("tools", [{"type": "function"}], "tools[0]"),
        ("tool_choice", 5, "tool_choice"),
        ("response_format", "json", "response_format"),
        ("metadata", 5, "metadata"),
        ("user", 5, "user"),
        ("seed", "x", "seed"),
    ],
)
def test_chat_wrong_types(http: httpx.Client, field: str, value: Any, param: str) -> None:
    error = openai_error(post(http, CHAT, with_(CHAT, **{field: value})), 400)
    assert error["type"] == "invalid_request_error"
    assert error["param"] is not None
    assert error["param"].startswith(param), error
    assert field in error["message"] or param in error["message"], error


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", 5),
        ("input", 5),
        ("input", {"text": "hi"}),
        ("input", [None]),
        ("input", [["a"]]),
        ("dimensions", "x"),
        ("dimensions", 0),
        ("dimensions", -3),
        ("encoding_format", "hex"),
        ("user", 5),
    ],
)
def test_embedding_wrong_types(http: httpx.Client, field: str, value: Any) -> None:
    error = openai_error(post(http, EMBED, with_(EMBED, **{field: value})), 400)
    assert error["param"] is not None
    assert error["param"].startswith(field), error


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", 5),
        ("max_tokens", "ten"),
        ("max_tokens", 1.5),
        ("messages", "hi"),
        ("messages", [5]),
        ("messages", [{"role": "system", "content": "x"}]),
        ("messages", [{"role": "user", "content": 5}]),
        ("system", 5),
        ("stream", "yes"),
        ("tools", 5),
        ("tool_choice", "any"),
        ("temperature", "hot"),
        ("stop_sequences", "STOP"),
        ("metadata", 5),
    ],
)
def test_messages_wrong_types(http: httpx.Client, field: str, value: Any) -> None:
    error = anthropic_error(post(http, MESSAGES, with_(MESSAGES, **{field: value})), 400, field)
    assert error["type"] == "invalid_request_error"


# -- missing, empty, unknown ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (CHAT, "model"),
        (CHAT, "messages"),
        (EMBED, "model"),
        (EMBED, "input"),
        (MESSAGES, "model"),
        (MESSAGES, "messages"),
        (MESSAGES, "max_tokens"),
    ],
)
def test_missing_required_field(http: httpx.Client, path: str, field: str) -> None:
    check_error(post(http, path, without(path, field)), path, 400, field)


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        (CHAT, "messages", []),
        (CHAT, "model", ""),
        (EMBED, "input", ""),
        (EMBED, "input", []),
        (EMBED, "input", ["a", ""]),
        (MESSAGES, "messages", []),
        (MESSAGES, "model", ""),
    ],
)
def test_empty_required_field(http: httpx.Client, path: str, field: str, value: Any) -> None:
    check_error(post(http, path, with_(path, **{field: value})), path, 400, field)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_unknown_model(http: httpx.Client, path: str) -> None:
    error = check_error(post(http, path, with_(path, model="no-such-model")), path, 404)
    assert "no-such-model" in error["message"]
    if path == MESSAGES:
        assert error["type"] == "not_found_error"
    else:
        assert error["code"] == "model_not_found"
        assert error["param"] == "model"


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("stream", [False, True])
def test_unknown_fields_are_passed_through(http: httpx.Client, path: str, stream: bool) -> None:
    if stream and path == EMBED:
        pytest.skip("embeddings do not stream")
    extra: dict[str, Any] = {"frobnicate": {"level": 11}, "x_vendor_flag": True}
    if stream:
        extra["stream"] = True
    reply = post(http, path, with_(path, **extra))
    assert reply.status_code == 200, reply.text
    if stream:
        assert reply.headers["content-type"].startswith("text/event-stream")
    else:
        assert reply.json()


# -- absurd numbers ------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("value", [0, -1, -(2**63), 10**12, 2**64, 10**30])
def test_chat_absurd_max_tokens(http: httpx.Client, field: str, value: int) -> None:
    error = openai_error(post(http, CHAT, with_(CHAT, **{field: value})), 400, field)
    assert error["param"] == field


@pytest.mark.parametrize("value", [0, -1, 10**12, 10**30])
def test_messages_absurd_max_tokens(http: httpx.Client, value: int) -> None:
    anthropic_error(post(http, MESSAGES, with_(MESSAGES, max_tokens=value)), 400, "max_tokens")


@pytest.mark.parametrize("value", [10**12, 2**63])
def test_embedding_absurd_dimensions(http: httpx.Client, value: int) -> None:
    error = openai_error(post(http, EMBED, with_(EMBED, dimensions=value)), 400, "dimensions")
    assert error["param"] == "dimensions"


def test_too_many_messages(http: httpx.Client) -> None:
    body = with_(CHAT, messages=[{"role": "user", "content": "x"}] * 10_001)
    openai_error(post(http, CHAT, body), 400, "messages")


# -- content parts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "part",
    [{"text": "hi"}, {"type": 5, "text": "hi"}, {"type": None}, {}],
    ids=["no-type", "int-type", "null-type", "empty"],
)
def test_chat_content_part_without_type(http: httpx.Client, part: dict[str, Any]) -> None:
    body = with_(CHAT, messages=[{"role": "user", "content": [part]}])
    error = openai_error(post(http, CHAT, body), 400, "type")
    assert error["param"] == "messages[0].content[0]"


@pytest.mark.parametrize(
    "block",
    [{"text": "hi"}, {"type": 5, "text": "hi"}, {"type": "no-such-block"}, {}],
    ids=["no-type", "int-type", "unknown-type", "empty"],
)
def test_messages_content_block_without_type(http: httpx.Client, block: dict[str, Any]) -> None:
    body = with_(MESSAGES, messages=[{"role": "user", "content": [block]}])
    anthropic_error(post(http, MESSAGES, body), 400)


# -- odd but well-typed requests must not reach a crash ---------------------------------------


ODD_CHAT_FIELDS: list[dict[str, Any]] = [
    {"tool_choice": {"type": "function", "function": 5}},
    {"tool_choice": {"type": "function"}},
    {"tool_choice": {"type": "function", "function": {"name": "nope"}}},
    {"response_format": {"type": "json_schema", "json_schema": 5}},
    {"response_format": {"type": "json_schema", "json_schema": {"schema": 5}}},
    {"response_format": {"type": "json_schema", "json_schema": {"schema": {"properties": 5}}}},
    {"response_format": {"type": "json_schema", "json_schema": {"schema": {"required": 5}}}},
    {"response_format": {"type": "json_schema", "json_schema": {"schema": {"anyOf": {}}}}},
    {"response_format": {"type": "json_schema", "json_schema": {"schema": {"type": {}}}}},
    {"response_format": {"type": "json_schema", "json_schema": {"schema": {"type": []}}}},
    {"response_format": {"type": ["json_object"]}},
    {"response_format": {}},
]
TOOL_WITH = "tools-with-{}"
ODD_PARAMETERS: list[Any] = [
    {"type": "object", "properties": 5},
    {"type": "object", "properties": {"a": 5}},
    {"type": "object", "properties": {"a": {"type": "object", "properties": []}}},
    {"type": "object", "required": 5},
    {"type": "object", "required": [5], "properties": {}},
    {"type": {}},
    {"anyOf": 5},
    {"enum": 5},
    {"type": "array", "items": []},
]


@pytest.mark.parametrize("fields", ODD_CHAT_FIELDS, ids=lambda f: json.dumps(f)[:60])
@pytest.mark.parametrize("stream", [False, True])
def test_odd_chat_fields_are_answered_or_rejected(
    http: httpx.Client, fields: dict[str, Any], stream: bool
) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    body = with_(CHAT, tools=tools, stream=stream, **fields)
    reply = post(http, CHAT, body)
    if reply.status_code != 200:
        openai_error(reply, reply.status_code)
        assert 400 <= reply.status_code < 500


@pytest.mark.parametrize("parameters", ODD_PARAMETERS, ids=lambda p: json.dumps(p)[:60])
@pytest.mark.parametrize("path", [CHAT, MESSAGES])
def test_odd_tool_schemas_are_answered_or_rejected(
    http: httpx.Client, parameters: Any, path: str
) -> None:
    if path == CHAT:
        function = {"name": "f", "parameters": parameters}
        tools: list[Any] = [{"type": "function", "function": function}]
        body = with_(CHAT, tools=tools, tool_choice="required")
    else:
        tools = [{"name": "f", "input_schema": parameters}]
        body = with_(MESSAGES, tools=tools, tool_choice={"type": "any"})
    reply = post(http, path, body)
    if reply.status_code != 200:
        check_error(reply, path, reply.status_code)
        assert 400 <= reply.status_code < 500


# -- size ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ENDPOINTS)
def test_oversize_body_with_content_length(small_server: ServerThread, path: str) -> None:
    body = json.dumps(with_(path, padding="x" * 2000)).encode()
    with httpx.Client(base_url=small_server.url, timeout=TIMEOUT) as http:
        reply = post(http, path, body)
        error = check_error(reply, path, 413, "1000")
        if path == MESSAGES:
            assert error["type"] == "request_too_large"
        # The server keeps serving.
        assert post(http, path, VALID[path]).status_code == 200


@pytest.mark.parametrize("path", ENDPOINTS)
def test_oversize_chunked_body(small_server: ServerThread, path: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield json.dumps(VALID[path]).encode()[:-1]
        for _ in range(50):
            yield b', "pad": "' + b"x" * 100 + b'"'
        yield b"}"

    with httpx.Client(base_url=small_server.url, timeout=TIMEOUT) as http:
        reply = http.post(path, content=chunks(), headers={"content-type": "application/json"})
        assert "content-length" not in reply.request.headers
        assert reply.request.headers["transfer-encoding"] == "chunked"
        check_error(reply, path, 413, "1000")
        assert post(http, path, VALID[path]).status_code == 200


@pytest.mark.parametrize("path", ENDPOINTS)
def test_small_chunked_body_is_accepted(small_server: ServerThread, path: str) -> None:
    raw = json.dumps(VALID[path]).encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(raw), 7):
            yield raw[i : i + 7]

    with httpx.Client(base_url=small_server.url, timeout=TIMEOUT) as http:
        reply = http.post(path, content=chunks(), headers={"content-type": "application/json"})
    assert reply.status_code == 200, reply.text


def test_default_limit_is_4_mib(http: httpx.Client) -> None:
    limit = 4 * 1024 * 1024
    small = json.dumps(with_(CHAT, padding="")).encode()
    fits = json.dumps(with_(CHAT, padding="x" * (limit - len(small)))).encode()
    assert len(fits) == limit
    assert post(http, CHAT, fits).status_code == 200
    too_big = json.dumps(with_(CHAT, padding="x" * (limit - len(small) + 1))).encode()
    openai_error(post(http, CHAT, too_big), 413, str(limit))


# -- methods and routes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", CHAT),
        ("PUT", CHAT),
        ("DELETE", EMBED),
        ("GET", EMBED),
        ("GET", MESSAGES),
        ("PATCH", MESSAGES),
        ("POST", "/v1/models"),
    ],
)
def test_wrong_method_is_405(http: httpx.Client, method: str, path: str) -> None:
    reply = http.request(method, path)
    check_error(reply, path, 405, method)


def test_405_says_which_methods_are_allowed(http: httpx.Client) -> None:
    reply = http.get(CHAT)
    assert reply.status_code == 405
    assert "POST" in reply.headers.get("allow", "")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/nothing"),
        ("GET", "/nope"),
        ("POST", "/v2/chat/completions"),
        ("POST", "/v1/completions/extra"),
        ("POST", "/v1/messages/batches"),
        ("POST", "/v1/messages/count_tokens/extra"),
    ],
)
def test_unknown_route_is_404(http: httpx.Client, method: str, path: str) -> None:
    reply = http.request(method, path, json={})
    shape = MESSAGES if path.startswith(MESSAGES) else CHAT
    check_error(reply, shape, 404, path)


# -- the connection and the server survive -----------------------------------------------------


def test_truncated_body_does_not_hang_the_server(server: ServerThread, http: httpx.Client) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw:
        raw.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\n"
            b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n"
            b'{"model": "sim-small", "mess'
        )
        raw.shutdown(socket.SHUT_WR)
        raw.recv(65536)  # whatever the server does, it does it without waiting forever
    assert post(http, CHAT, VALID[CHAT]).status_code == 200


def test_bad_requests_keep_the_connection_usable(server: ServerThread) -> None:
    bad: list[tuple[str, bytes]] = [
        (CHAT, b"{"),
        (CHAT, b"[]"),
        (EMBED, b"\xff"),
        (MESSAGES, b"{}"),
        (CHAT, json.dumps(with_(CHAT, max_tokens=0)).encode()),
        (MESSAGES, json.dumps(with_(MESSAGES, model="nope")).encode()),
    ]
    with httpx.Client(
        base_url=server.url, timeout=TIMEOUT, limits=httpx.Limits(max_connections=1)
    ) as http:
        for _ in range(3):
            for path, body in bad:
                reply = post(http, path, body)
                assert 400 <= reply.status_code < 500, reply.text
            for path in ENDPOINTS:
                assert post(http, path, VALID[path]).status_code == 200
