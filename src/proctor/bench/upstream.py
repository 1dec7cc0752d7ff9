"""A fast local OpenAI-compatible upstream, as lean as Python allows: the baseline of the bench.

A raw asyncio Protocol with httptools parsing, HTTP/1.1 keep-alive, no framework. It answers
`POST /v1/chat/completions` at once with a fixed small answer and its usage, whole or as an
SSE stream (chunked transfer encoding, one write per event, usage chunk when
`stream_options.include_usage` asks for it). Bodies are pre-encoded per model name, so a
request costs one parse of the JSON body and one or a few socket writes. `--delay-ms` makes
it wait before answering, like a model's time to first token, so that a concurrency level
can be measured below saturation.

Run it alone with `python -m proctor.bench.upstream --port 0`: it prints `listening <port>`
and stops when its standard input closes (so it never outlives the bench that started it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import threading
import time
from typing import Any, cast

import httptools
import msgspec

ANSWER_PIECES = ("Hello", "!", " This", " is", " the", " bench", " upstream", ".")
USAGE = {"prompt_tokens": 9, "completion_tokens": len(ANSWER_PIECES), "total_tokens": 17}
_CREATED = int(time.time())
_encoder = msgspec.json.Encoder()


class _Request(msgspec.Struct):
    model: str = ""
    stream: bool = False
    stream_options: dict[str, Any] | None = None


_decoder = msgspec.json.Decoder(_Request)


def _http(status: str, body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (
        b"HTTP/1.1 " + status.encode() + b"\r\ncontent-type: " + content_type
        + b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )  # fmt: skip


def completion_body(model: str) -> bytes:
    return _encoder.encode(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": _CREATED,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(ANSWER_PIECES)},
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
        }
    )


def stream_events(model: str, include_usage: bool) -> list[bytes]:
    """The SSE events of one streamed answer, each framed as one HTTP chunk."""

    def chunk(delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": _CREATED,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    payloads = [chunk({"role": "assistant", "content": ANSWER_PIECES[0]})]
    payloads += [chunk({"content": piece}) for piece in ANSWER_PIECES[1:]]
    payloads.append(chunk({}, "stop"))
    if include_usage:
        payloads.append({**chunk({}), "choices": [], "usage": USAGE})
    events = [b"data: " + _encoder.encode(p) + b"\n\n" for p in payloads]
    events.append(b"data: [DONE]\n\n")
    framed = [b"%x\r\n%s\r\n" % (len(e), e) for e in events]
    framed[-1] += b"0\r\n\r\n"
    return framed


_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
_NOT_FOUND = _http("404 Not Found", b'{"error":{"message":"not found","type":"not_found"}}')
_BAD = _http("400 Bad Request", b'{"error":{"message":"bad request","type":"invalid_request"}}')
_HEALTH = _http("200 OK", b'{"status":"ok"}')
_MODELS = _http("200 OK", b'{"object":"list","data":[{"id":"bench-upstream","object":"model"}]}')
_CHAT_PATHS = (b"/v1/chat/completions", b"/chat/completions")


class Answers:
    """Pre-encoded replies per model name (a handful of names in practice)."""

    def __init__(self) -> None:
        self._whole: dict[str, bytes] = {}
        self._streams: dict[tuple[str, bool], list[bytes]] = {}
        self.served = 0

    def whole(self, model: str) -> bytes:
        reply = self._whole.get(model)
        if reply is None:
            reply = self._whole[model] = _http("200 OK", completion_body(model))
        return reply

    def stream(self, model: str, include_usage: bool) -> list[bytes]:
        key = (model, include_usage)
        events = self._streams.get(key)
        if events is None:
            events = stream_events(model, include_usage)
            events[0] = _STREAM_HEAD + events[0]
            self._streams[key] = events
        return events


class UpstreamProtocol(asyncio.Protocol):
    """One keep-alive connection; requests are answered in order as they complete."""

    def __init__(self, answers: Answers, delay_s: float = 0.0) -> None:
        self.answers = answers
        self.delay_s = delay_s
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods;
        # both loops set TCP_NODELAY on accepted sockets.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.write(_BAD)
                self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        path = self.url.partition(b"?")[0]
        method = self.parser.get_method()
        if method == b"POST" and path in _CHAT_PATHS:
            body = b"".join(self.body)
            if self.delay_s > 0:
                # Like a model's time to first token; clients do not pipeline, so the
                # connection has nothing else to answer meanwhile.
                loop = asyncio.get_running_loop()
                loop.call_later(self.delay_s, self._chat, transport, body)
            else:
                self._chat(transport, body)
        elif path == b"/healthz":
            transport.write(_HEALTH)
        elif path == b"/v1/models":
            transport.write(_MODELS)
        else:
            transport.write(_NOT_FOUND)
        if not self.parser.should_keep_alive():
            transport.close()

    def _chat(self, transport: asyncio.Transport, body: bytes) -> None:
        if transport.is_closing():
            return
        try:
            request = _decoder.decode(body)
        except msgspec.DecodeError:
            transport.write(_BAD)
            return
        self.answers.served += 1
        if not request.stream:
            transport.write(self.answers.whole(request.model))
            return
        options = request.stream_options or {}
        for event in self.answers.stream(request.model, bool(options.get("include_usage"))):
            transport.write(event)


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def serve(sock: socket.socket, stop: asyncio.Event, delay_s: float = 0.0) -> None:
    answers = Answers()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: UpstreamProtocol(answers, delay_s), sock=sock)
    async with server:
        await stop.wait()


def exit_when_stdin_closes(on_close: Any) -> None:
    """Call `on_close` from a daemon thread once the parent closes our standard input."""

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        on_close()

    threading.Thread(target=watch, daemon=True, name="stdin-watch").start()


def pin(cpus: str | None) -> None:
    """Pin this process (and the threads it starts later) to a comma-separated CPU list."""
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="fast local OpenAI-compatible upstream")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpus", default=None, help="pin to these CPUs, e.g. 1 or 0,1")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="wait before answering")
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    args = parser.parse_args(argv)
    pin(args.cpus)
    sock = bind(args.host, args.port)
    print(f"listening {sock.getsockname()[1]}", flush=True)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        exit_when_stdin_closes(lambda: loop.call_soon_threadsafe(stop.set))
        loop.call_later(args.max_seconds, stop.set)
        await serve(sock, stop, args.delay_ms / 1000)

    try:
        import uvloop

        uvloop.run(run())
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        asyncio.run(run())


if __name__ == "__main__":
    main()
