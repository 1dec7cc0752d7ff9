"""Hot reload: config edits apply without a restart; bad edits are refused and the old config
keeps serving; requests in flight finish on the config they started with."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from proctor import config as config_mod
from proctor.reload import ConfigWatcher
from tests.gateway_server import ServerThread, running_gateway
from tests.thread_safe_logs import one_line_server_tracebacks

one_line_server_tracebacks()  # see tests/thread_safe_logs.py

TIMEOUT = httpx.Timeout(30.0)
USER_HI: list[Any] = [{"role": "user", "content": "hi"}]


def config_dict(tmp_path: Path, **models: str) -> dict[str, Any]:
    """Public model name -> sim model name, with a `sim` provider and a `slow` one."""
    return {
        "store": {"url": f"sqlite:///{tmp_path / 'proctor.db'}", "flush_interval_ms": 20},
        "providers": {
            "sim": {"type": "sim"},
            # 48 tokens at 40 tokens/s: a stream takes about 1.2 s.
            "slow": {"type": "sim", "tokens_per_s": 40, "reply_tokens": 48},
        },
        "models": {
            name: {"deployments": [{"provider": provider, "model": name}]}
            for name, provider in models.items()
        },
    }


def write(path: Path, text: str) -> None:
    """Replace the file atomically, as editors and config management tools do."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def dump(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2)  # JSON is YAML


def wait_for(predicate: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def watcher_of(server: ServerThread) -> ConfigWatcher:
    app: Any = server.server.config.app
    watcher = app.state.watcher
    assert isinstance(watcher, ConfigWatcher)
    return watcher


class Reloadable:
    def __init__(self, server: ServerThread, path: Path, http: httpx.Client) -> None:
        self.server = server
        self.path = path
        self.http = http

    def models(self) -> set[str]:
        reply = self.http.get("/v1/models")
        assert reply.status_code == 200
        return {m["id"] for m in reply.json()["data"]}

    def chat(self, model: str, **fields: Any) -> httpx.Response:
        return self.http.post(
            "/v1/chat/completions", json={"model": model, "messages": USER_HI, **fields}
        )

    def put_config(self, text: str | bytes, **headers: str) -> httpx.Response:
        content = text.encode() if isinstance(text, str) else text
        return self.http.put("/admin/config", content=content, headers=headers)


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[Reloadable]:
    path = tmp_path / "proctor.yaml"
    write(path, dump(config_dict(tmp_path, small="sim")))
    with (
        running_gateway(config_mod.load(path), config_path=path, watch_interval_s=0.1) as server,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as http,
    ):
        yield Reloadable(server, path, http)


# -- file edits ---------------------------------------------------------------------------


def test_edit_adds_a_model(gw: Reloadable, tmp_path: Path) -> None:
    assert gw.models() == {"small"}
    assert gw.chat("large").status_code == 404
    write(gw.path, dump(config_dict(tmp_path, small="sim", large="sim")))
    wait_for(lambda: "large" in gw.models(), "the new model to appear")
    reply = gw.chat("large")
    assert reply.status_code == 200
    assert reply.json()["model"] == "sim/large"
    assert gw.chat("small").status_code == 200


def test_edit_removes_a_model(gw: Reloadable, tmp_path: Path) -> None:
    write(gw.path, dump(config_dict(tmp_path, other="sim")))
    wait_for(lambda: gw.models() == {"other"}, "the model list to change")
    error = gw.chat("small").json()["error"]
    assert error["code"] == "model_not_found"


def test_edit_changes_provider_settings(gw: Reloadable, tmp_path: Path) -> None:
    before = gw.chat("small").json()["usage"]["completion_tokens"]
    config = config_dict(tmp_path, small="sim")
    config["providers"]["sim"]["reply_tokens"] = 5
    write(gw.path, dump(config))

    def shorter() -> bool:
        return bool(gw.chat("small").json()["usage"]["completion_tokens"] < before)

    wait_for(shorter, "the provider to answer with the new settings")


def test_edit_changes_server_limits(gw: Reloadable, tmp_path: Path) -> None:
    padded = {"padding": "x" * 2000}
    assert gw.chat("small", **padded).status_code == 200
    config = config_dict(tmp_path, small="sim")
    config["server"] = {"max_body_bytes": 1000}
    write(gw.path, dump(config))
    wait_for(lambda: gw.chat("small", **padded).status_code == 413, "the new body limit")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda cfg: cfg["models"].update(
                broken={"deployments": [{"provider": "ghost", "model": "x"}]}
            ),
            ["$.models.broken.deployments[0].provider", "ghost"],
        ),
        (lambda cfg: cfg.update(modles={}), ["modles"]),
        (lambda cfg: cfg["providers"]["sim"].update(error_rate=7), ["error_rate"]),
        (lambda cfg: cfg["models"]["small"].update(fallbacks=["small"]), ["cycle"]),
        # Valid to the schema, refused by the adapter when built: `compatible` needs a URL.
        (
            lambda cfg: cfg["providers"].update(odd={"type": "openai", "profile": "compatible"}),
            ["base_url"],
        ),
    ],
    ids=["unknown-provider", "unknown-section", "out-of-range", "fallback-cycle", "adapter"],
)
def test_invalid_edit_is_rejected_and_old_config_keeps_serving(
    gw: Reloadable,
    tmp_path: Path,
    edit: Callable[[dict[str, Any]], None],
    expected: list[str],
) -> None:
    config = config_dict(tmp_path, small="sim", extra="sim")
    edit(config)
    write(gw.path, dump(config))
    watcher = watcher_of(gw.server)
    wait_for(lambda: watcher.last_error is not None, "the edit to be rejected")
    assert watcher.last_error is not None
    for fragment in expected:
        assert fragment in watcher.last_error
    # Nothing of the bad edit applied, not even its valid parts.
    assert gw.models() == {"small"}
    assert gw.chat("small").status_code == 200
    # A good edit afterwards applies and clears the error.
    write(gw.path, dump(config_dict(tmp_path, small="sim", fixed="sim")))
    wait_for(lambda: "fixed" in gw.models(), "the corrected edit to apply")
    assert watcher.last_error is None


@pytest.mark.parametrize(
    "text",
    ["models: {small: {deployments: [", "providers:\n  sim: {type: sim\n", "\tmodels: x: y"],
    ids=["unclosed", "unclosed-brace", "tab"],
)
def test_yaml_syntax_error_is_rejected(gw: Reloadable, text: str) -> None:
    write(gw.path, text)
    watcher = watcher_of(gw.server)
    wait_for(lambda: watcher.last_error is not None, "the edit to be rejected")
    assert "YAML" in (watcher.last_error or "")
    assert gw.models() == {"small"}
    assert gw.chat("small").status_code == 200


def test_deleted_file_keeps_the_running_config(gw: Reloadable, tmp_path: Path) -> None:
    gw.path.unlink()
    for _ in range(5):
        time.sleep(0.1)  # the watcher polls meanwhile; no assertion on time
        assert gw.chat("small").status_code == 200
    write(gw.path, dump(config_dict(tmp_path, small="sim", back="sim")))
    wait_for(lambda: "back" in gw.models(), "the restored file to apply")


# -- PUT /admin/config ----------------------------------------------------------------------


def test_put_config_applies_and_writes_the_file(gw: Reloadable, tmp_path: Path) -> None:
    text = dump(config_dict(tmp_path, small="sim", put="sim"))
    reply = gw.put_config(text)
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "applied"
    # Applied before the reply: no waiting.
    assert gw.models() == {"small", "put"}
    assert gw.chat("put").status_code == 200
    assert gw.path.read_text(encoding="utf-8") == text
    assert watcher_of(gw.server).last_error is None


def test_put_config_accepts_yaml(gw: Reloadable, tmp_path: Path) -> None:
    text = (
        "store: {url: 'sqlite:///" + str(tmp_path / "proctor.db") + "'}\n"
        "providers:\n"
        "  sim: {type: sim}\n"
        "models:\n"
        "  yaml-model:\n"
        "    deployments:\n"
        "      - {provider: sim, model: y}\n"
    )
    assert gw.put_config(text).status_code == 200
    assert gw.models() == {"yaml-model"}
    assert config_mod.load(gw.path).models.keys() == {"yaml-model"}


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "providers: {sim: {type: sim}}\n"
            "models: {broken: {deployments: [{provider: ghost, model: x}]}}\n",
            ["$.models.broken.deployments[0].provider", "ghost"],
        ),
        ("models: {small: {deployments: [", ["YAML"]),
        ("modles: {}\n", ["modles"]),
        ("server: {port: 0}\n", ["$.server.port"]),
        ("providers: {sim: {type: warp-drive}}\n", ["$.providers.sim"]),
        ("- just\n- a list\n", ["mapping"]),
    ],
    ids=["unknown-provider", "yaml-syntax", "unknown-section", "bad-port", "bad-type", "list"],
)
def test_put_invalid_config_is_400_naming_the_key(
    gw: Reloadable, text: str, fragments: list[str]
) -> None:
    before = gw.path.read_text(encoding="utf-8")
    reply = gw.put_config(text)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["code"] == "invalid_config"
    for fragment in fragments:
        assert fragment in error["message"], error
    assert gw.path.read_text(encoding="utf-8") == before
    assert gw.models() == {"small"}
    assert gw.chat("small").status_code == 200


def test_put_config_rejects_non_utf8(gw: Reloadable) -> None:
    reply = gw.put_config(b"models: {\xff\xfe}")
    assert reply.status_code == 400
    assert "UTF-8" in reply.json()["error"]["message"]
    assert gw.models() == {"small"}


def test_put_config_needs_the_admin_key_when_one_is_set(tmp_path: Path) -> None:
    path = tmp_path / "proctor.yaml"
    config = config_dict(tmp_path, small="sim")
    config["server"] = {"admin_key": "s3cret"}
    write(path, dump(config))
    with (
        running_gateway(config_mod.load(path), config_path=path) as server,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as http,
    ):
        gw = Reloadable(server, path, http)
        new = dict(config, models={"other": config["models"]["small"]})
        assert gw.put_config(dump(new)).status_code == 401
        assert gw.put_config(dump(new), authorization="Bearer wrong").status_code == 401
        assert gw.models() == {"small"}
        assert gw.put_config(dump(new), authorization="Bearer s3cret").status_code == 200
        assert gw.models() == {"other"}


# -- requests in flight -------------------------------------------------------------------


def _sse_data(line: str) -> dict[str, Any] | None:
    if not line.startswith("data: ") or line == "data: [DONE]":
        return None
    data: dict[str, Any] = json.loads(line.removeprefix("data: "))
    return data


@pytest.mark.parametrize("how", ["put", "file"])
def test_stream_in_flight_finishes_across_a_reload(
    gw: Reloadable, tmp_path: Path, how: str
) -> None:
    # Serve a slow model, then remove it and replace its provider while a stream runs.
    gw.put_config(dump(config_dict(tmp_path, small="sim", slowpoke="slow")))
    assert gw.models() == {"small", "slowpoke"}
    replacement = config_dict(tmp_path, small="sim")
    replacement["providers"]["slow"]["seed"] = 99

    body = {"model": "slowpoke", "messages": USER_HI, "stream": True}
    lines: list[str] = []
    with (
        httpx.Client(base_url=gw.server.url, timeout=TIMEOUT) as streamer,
        streamer.stream("POST", "/v1/chat/completions", json=body) as reply,
    ):
        assert reply.status_code == 200
        request_id = reply.headers["x-request-id"]
        chunks = reply.iter_lines()
        for line in chunks:
            lines.append(line)
            if _sse_data(line) is not None:
                break  # the first chunk is here: the stream is under way
        if how == "put":
            assert gw.put_config(dump(replacement)).status_code == 200
        else:
            write(gw.path, dump(replacement))
            wait_for(lambda: gw.models() == {"small"}, "the edit to apply")
        assert gw.chat("slowpoke").status_code == 404
        lines.extend(chunks)

    events = [line for line in lines if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    chunks_data = [d for d in map(_sse_data, events) if d is not None]
    assert all("error" not in d for d in chunks_data)
    text = "".join(d["choices"][0]["delta"].get("content") or "" for d in chunks_data)
    assert text.startswith("[simulated by sim/slowpoke]")
    assert chunks_data[-1]["choices"][0]["finish_reason"] == "stop"
    assert len(chunks_data) > 10

    def logged() -> bool:
        with sqlite3.connect(tmp_path / "proctor.db") as db:
            row = db.execute("SELECT status FROM requests WHERE id = ?", (request_id,)).fetchone()
        return row is not None and row[0] == 200

    wait_for(logged, "the stream's record")


def test_put_config_refused_by_an_adapter_is_a_400(gw: Reloadable, tmp_path: Path) -> None:
    config = config_dict(tmp_path, small="sim")
    config["providers"]["odd"] = {"type": "openai", "profile": "compatible"}
    reply = gw.put_config(dump(config))
    assert reply.status_code == 400
    assert "base_url" in reply.json()["error"]["message"]
    assert gw.chat("small").status_code == 200


def test_admin_config_hides_credentials(gw: Reloadable, tmp_path: Path) -> None:
    config = config_dict(tmp_path, small="sim")
    config["providers"]["up"] = {
        "type": "openai",
        "api_key": "sk-secret",
        "base_url": "http://user:pw@127.0.0.1:9/v1",
        "headers": {"x-token": "hunter2"},
    }
    config["alerts"] = {
        "sinks": [{"type": "slack", "url": "https://hooks.slack.com/services/T0/B0/tok3n"}]
    }
    assert gw.put_config(dump(config)).status_code == 200
    shown = gw.http.get("/admin/config").text
    assert "hooks.slack.com" in shown
    for secret in ("sk-secret", "hunter2", "user:pw", "tok3n"):
        assert secret not in shown
    assert "x-token" in shown
