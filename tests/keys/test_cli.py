"""`proctor keys create/list/revoke` against a temporary SQLite store named by the config."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proctor.cli.main import app
from proctor.keys import Keyring, hash_secret
from proctor.store.sqlite import SQLiteStore


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "proctor.yaml"
    path.write_text(f'store: {{url: "sqlite:///{tmp_path / "keys.db"}"}}\n')
    return path


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _create(config: Path, *args: str) -> dict[str, object]:
    code, out, err = _run("keys", "create", "--config", str(config), "--json", *args)
    assert code == 0, err
    created = json.loads(out)
    assert isinstance(created, dict)
    return created


def _list(config: Path, *args: str) -> list[dict[str, object]]:
    code, out, err = _run("keys", "list", "--config", str(config), "--json", *args)
    assert code == 0, err
    listed = json.loads(out)
    assert isinstance(listed, list)
    return listed


def test_create_list_revoke(config: Path) -> None:
    created = _create(
        config,
        "--name=support bot",
        "--tenant=acme",
        "--team=support",
        "--user=bob",
        "--budget-usd=25",
        "--period=day",
        "--rpm=60",
        "--tpm=100000",
        "--model=chat-large",
        "--model=chat-small",
        "--meta=owner=bob@acme.test",
    )
    secret = created["secret"]
    assert isinstance(secret, str)
    assert secret.startswith("pk-")
    assert created["prefix"] == secret[:8]
    assert "hash" not in created
    assert created["budget_usd"] == 25.0
    assert created["budget_period"] == "day"
    assert created["models"] == ["chat-large", "chat-small"]
    assert created["metadata"] == {"owner": "bob@acme.test"}

    listed = _list(config)
    assert [k["id"] for k in listed] == [created["id"]]
    assert "secret" not in listed[0]  # shown once, at creation, never again
    assert "hash" not in listed[0]

    # The stored record answers to the secret the CLI printed.
    store = SQLiteStore(f"sqlite:///{config.parent / 'keys.db'}")

    async def load() -> Keyring:
        await store.open()
        try:
            return Keyring(await store.all_keys())
        finally:
            await store.close()

    ring = asyncio.run(load())
    found = ring.lookup(secret)
    assert found is not None
    assert found.hash == hash_secret(secret)

    code, out, err = _run("keys", "revoke", str(created["id"]), "--config", str(config), "--json")
    assert code == 0, err
    assert json.loads(out)["revoked_at"] is not None
    assert _list(config) == []
    assert [k["id"] for k in _list(config, "--all")] == [created["id"]]


def test_human_output(config: Path) -> None:
    code, out, _ = _run("keys", "create", "--name", "demo", "--rpm", "5", "--config", str(config))
    assert code == 0
    secret_lines = [line for line in out.splitlines() if line.startswith("secret: pk-")]
    assert len(secret_lines) == 1
    secret = secret_lines[0].removeprefix("secret: ")
    key_id = _list(config)[0]["id"]
    assert isinstance(key_id, str)
    code, out, _ = _run("keys", "list", "--all", "--config", str(config))
    assert code == 0
    assert key_id in out
    assert secret[:8] in out
    assert secret not in out
    code, out, _ = _run("keys", "revoke", secret[:8], "--config", str(config))
    assert code == 0
    assert f"revoked key {key_id}" in out


def test_revoking_an_unknown_key_fails(config: Path) -> None:
    code, _, err = _run("keys", "revoke", "key_000000000000", "--config", str(config))
    assert code == 1
    assert "no key has the id or prefix" in err


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--budget-usd=0"], "--budget-usd"),
        (["--budget-usd=-3"], "--budget-usd"),
        (["--budget-usd=1e15"], "--budget-usd"),
        (["--budget-usd=5", "--period=week"], "--period"),
        (["--period=fortnight"], "--period"),
        (["--rpm=0"], "--rpm"),
        (["--rpm", "-5"], "--rpm"),
        (["--tpm=-1"], "--tpm"),
        (["--rpm=lots"], "--rpm"),
        (["--tenant= "], "--tenant"),
        (["--model= "], "--model"),
        (["--meta=novalue"], "--meta"),
    ],
)
def test_bad_options_exit_2_naming_the_option(config: Path, args: list[str], option: str) -> None:
    code, out, err = _run("keys", "create", "--name=k", "--config", str(config), *args)
    assert code == 2, (out, err)
    assert option in err
    assert "pk-" not in out
    assert _list(config) == []  # nothing was created


def test_name_is_required(config: Path) -> None:
    code, _, err = _run("keys", "create", "--config", str(config))
    assert code == 2
    assert "--name" in err
    code, _, err = _run("keys", "create", "--name", "", "--config", str(config))
    assert code == 2
    assert "--name" in err


def test_a_bad_store_url_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "proctor.yaml"
    path.write_text('store: {url: "mysql://nope"}\n')
    code, _, err = _run("keys", "list", "--config", str(path))
    assert code == 2
    assert "store.url" in err


def test_keys_is_listed_in_help() -> None:
    code, out, _ = _run("--help")
    assert code == 0
    assert "keys" in out
    code, out, _ = _run("keys", "--help")
    assert code == 0
    for command in ("create", "list", "revoke"):
        assert command in out
