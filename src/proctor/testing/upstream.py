"""A fake upstream provider: a real HTTP server on loopback with fault injection.

It speaks OpenAI (`/v1/chat/completions`, `/v1/embeddings`, `/v1/models`), Azure OpenAI
(`/openai/deployments/{deployment}/...?api-version=`) and Anthropic (`/v1/messages`), answers
deterministically (`proctor.testing.answers`), records every request, and fails on demand
(`proctor.testing.faults`). aiohttp runs in a thread of its own, so one fake serves async
tests, sync SDK clients, benchmarks and `proctor drill` alike, and owning the raw transport
lets it drop or stall a reply.

    with FakeUpstream() as fake:
        fake.fail_next("429", retry_after=2)     # the next request gets a 429
        ...  # point a client at f"{fake.url}/v1" (OpenAI) or fake.url (Anthropic, Azure)
        assert fake.last.body["model"] == "gpt-x"
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from proctor.testing import anthropic_api, openai_api
from proctor.testing.faults import FAULT_HEADER, Fault
from proctor.testing.sending import Dialect, Reply, Sender, encode, error, sse

_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: Any  # the decoded JSON, or None when the body was not JSON
    raw: bytes


def closed_port_url() -> str:
    """A loopback URL where nothing listens, for connection-refused tests."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class FakeUpstream:
    """The server and its control panel; thread-safe to drive from the test thread."""

    def __init__(self, *, api_key: str | None = None) -> None:
        # Auth is only enforced when a key is set (Azure always needs *an* `api-key`).
        self.api_key = api_key
        self.cached_tokens = 0  # OpenAI cached_tokens and Anthropic cache_read_input_tokens
        self.cache_creation_tokens = 0  # Anthropic cache_creation_input_tokens
        self.reasoning_tokens = 0  # OpenAI completion_tokens_details.reasoning_tokens
        self.event_interval_s = 0.0  # pause between stream events
        self._lock = threading.Lock()
        self._faults: list[tuple[Fault, str | None]] = []
        self._requests: list[RecordedRequest] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._sender: Sender | None = None
        self._port = 0

    # -- control ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`; OpenAI clients want `url + "/v1"`."""
        return f"http://127.0.0.1:{self._port}"

    def fail_next(
        self, kind: str | Fault, count: int = 1, *, path: str | None = None, **options: Any
    ) -> Fault:
        """Queue a fault for the next `count` requests (whose path starts with `path`)."""
        fault = kind if isinstance(kind, Fault) else Fault.build(kind, **options)
        with self._lock:
            self._faults.extend([(fault, path)] * count)
        return fault

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self._requests.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def last(self) -> RecordedRequest:
        with self._lock:
            if not self._requests:
                raise AssertionError("the fake upstream has received no request")
            return self._requests[-1]

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeUpstream:
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, args=(ready, failure), daemon=True, name="fake-upstream"
        )
        self._thread.start()
        if not ready.wait(timeout=30):
            raise RuntimeError("the fake upstream did not start within 30 s")
        if failure:
            raise RuntimeError("the fake upstream failed to start") from failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._thread = self._loop = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        try:
            asyncio.run(self._serve(ready))
        except BaseException as exc:  # reported to start(), which is waiting on `ready`
            failure.append(exc)
            ready.set()

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping, released = asyncio.Event(), asyncio.Event()
        self._sender = Sender(released, lambda: self.event_interval_s)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._openai_chat)
        app.router.add_post("/v1/embeddings", self._openai_embeddings)
        app.router.add_get("/v1/models", self._openai_models)
        app.router.add_post("/openai/deployments/{deployment}/{op:.+}", self._azure)
        app.router.add_post("/v1/messages", self._anthropic)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._port = runner.addresses[0][1]
        ready.set()
        await self._stopping.wait()
        released.set()  # hung and stalled handlers close their connections and return
        await runner.cleanup()

    # -- routes ----------------------------------------------------------------------------

    async def _openai_chat(self, request: web.Request) -> web.StreamResponse:
        return await self._serve_one(request, "openai", self._chat_reply)

    async def _openai_embeddings(self, request: web.Request) -> web.StreamResponse:
        return await self._serve_one(request, "openai", self._embeddings_reply)

    async def _openai_models(self, request: web.Request) -> web.StreamResponse:
        return await self._serve_one(
            request, "openai", lambda r, b: Reply(body=openai_api.models())
        )

    async def _azure(self, request: web.Request) -> web.StreamResponse:
        op = request.match_info["op"]
        build = {"chat/completions": self._chat_reply, "embeddings": self._embeddings_reply}
        if op not in build:
            return await self._serve_one(request, "azure", lambda r, b: error("azure", 404, op))
        return await self._serve_one(request, "azure", build[op])

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        return await self._serve_one(request, "anthropic", self._messages_reply)

    # -- normal answers --------------------------------------------------------------------

    def _auth_problem(self, request: web.Request, dialect: Dialect) -> Reply | None:
        if dialect == "azure":
            key = request.headers.get("api-key")
            if not key or (self.api_key is not None and key != self.api_key):
                return error(dialect, 401, "Access denied due to invalid subscription key.")
            if not _API_VERSION.match(request.query.get("api-version", "")):
                return error(dialect, 404, "Resource not found")
        elif dialect == "anthropic":
            if "anthropic-version" not in request.headers:
                return error(dialect, 400, "anthropic-version: header is required")
            if self.api_key is not None and request.headers.get("x-api-key") != self.api_key:
                return error(dialect, 401, "invalid x-api-key")
        elif self.api_key is not None and (
            request.headers.get("authorization") != f"Bearer {self.api_key}"
        ):
            return error(dialect, 401, "Incorrect API key provided.")
        return None

    def _model(self, request: web.Request, body: dict[str, Any]) -> str:
        return request.match_info.get("deployment") or str(body["model"])

    def _chat_reply(self, request: web.Request, body: Any) -> Reply:
        dialect: Dialect = "azure" if "deployment" in request.match_info else "openai"
        problem = openai_api.check_chat(body, azure=dialect == "azure")
        if problem is not None:
            return error(dialect, 400, problem)
        plan = openai_api.chat_plan(body)
        usage = openai_api.usage(plan, cached=self.cached_tokens, reasoning=self.reasoning_tokens)
        model = self._model(request, body)
        if not body.get("stream"):
            return Reply(body=openai_api.completion(plan, model, usage))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunks = openai_api.chunks(plan, model, usage, include_usage)
        return Reply(events=[sse(encode(c)) for c in chunks] + [sse(b"[DONE]")])

    def _embeddings_reply(self, request: web.Request, body: Any) -> Reply:
        dialect: Dialect = "azure" if "deployment" in request.match_info else "openai"
        problem = openai_api.check_embeddings(body, azure=dialect == "azure")
        if problem is not None:
            return error(dialect, 400, problem)
        return Reply(body=openai_api.embeddings(body, self._model(request, body)))

    def _messages_reply(self, request: web.Request, body: Any) -> Reply:
        problem = anthropic_api.check(body)
        if problem is not None:
            return error("anthropic", 400, problem)
        plan = anthropic_api.plan(body)
        usage = anthropic_api.usage(
            plan, cache_read=self.cached_tokens, cache_creation=self.cache_creation_tokens
        )
        if not body.get("stream"):
            return Reply(body=anthropic_api.message(plan, body["model"], usage))
        events = anthropic_api.events(plan, body["model"], usage)
        return Reply(events=[sse(encode(data), name) for name, data in events])

    # -- serving, with faults --------------------------------------------------------------

    async def _serve_one(
        self,
        request: web.Request,
        dialect: Dialect,
        build: Callable[[web.Request, Any], Reply],
    ) -> web.StreamResponse:
        sender = self._sender
        assert sender is not None, "handlers only run once the server is up"
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self._record(request, body, raw)
        try:
            fault = self._fault_for(request)
        except ValueError as exc:
            return await sender.send(request, error(dialect, 400, str(exc)), None, dialect)
        if fault is not None:
            early = await sender.before_answer(request, fault, dialect)
            if early is not None:
                return early
        reply = self._auth_problem(request, dialect) or build(request, body)
        return await sender.send(request, reply, fault, dialect)

    def _record(self, request: web.Request, body: Any, raw: bytes) -> None:
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            raw=raw,
        )
        with self._lock:
            self._requests.append(recorded)

    def _fault_for(self, request: web.Request) -> Fault | None:
        spec = request.headers.get(FAULT_HEADER)
        if spec:
            return Fault.parse(spec)
        with self._lock:
            for i, (fault, path) in enumerate(self._faults):
                if path is None or request.path.startswith(path):
                    del self._faults[i]
                    return fault
        return None
