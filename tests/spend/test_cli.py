"""`proctor spend` over a seeded request log, through the real command line."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from proctor.cli.main import app
from proctor.store.sqlite import SQLiteStore
from tests.spend.seed import recent_records

CONFIG = """
store: {url: "sqlite:///%s"}
providers: {sim: {type: sim}}
models: {sim-small: {deployments: [{provider: sim, model: small}]}}
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("spend_cli")
    db = folder / "log.db"

    async def seed() -> None:
        store = SQLiteStore(f"sqlite:///{db}")
        await store.open()
        await store.write_batch(recent_records(time.time()))
        await store.close()

    asyncio.run(seed())
    path = folder / "proctor.yaml"
    path.write_text(CONFIG % db)
    return path


def spend(config: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["spend", "--config", str(config), *args])


def test_json_report(config: Path) -> None:
    result = spend(config, "--by", "user", "--top", "2", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["window"] == "24h"
    assert report["by"] == ["user"]
    assert report["top"] == 2
    assert report["totals"]["requests"] == 6
    assert report["totals"]["cost_usd"] == 1.9375
    assert report["totals"]["unknown_cost_requests"] == 1
    assert [(g["key"], g["cost_usd"]) for g in report["groups"]] == [
        ({"user": "bob"}, 1.0),
        ({"user": "alice"}, 0.75),
    ]
    assert report["groups"][1]["cost_per_1k_requests"] == 375.0
    assert report["groups_total"] == 4
    assert report["other"]["requests"] == 2
    assert report["other"]["cost_usd"] == 0.1875
    assert report["series"] == []
    assert report["series_bucket"] is None


def test_repeated_by_is_the_same_as_a_list(config: Path) -> None:
    one = json.loads(spend(config, "--by", "user,feature", "--json").stdout)
    two = json.loads(spend(config, "--by", "user", "--by", "feature", "--json").stdout)
    assert one["groups"] == two["groups"]
    assert len(one["groups"]) == 5


def test_json_series_and_since(config: Path) -> None:
    report = json.loads(spend(config, "--since", "7d", "--series", "day", "--json").stdout)
    assert report["totals"]["requests"] == 7
    assert report["totals"]["cost_usd"] == 9.9375
    assert sum(b["requests"] for b in report["series"]) == 7
    assert all(b["start"] % 86400 == 0 for b in report["series"])


def test_table_output(config: Path) -> None:
    result = spend(config, "--by", "user,feature", "--top", "3", "--series", "hour")
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("bob", "alice", "carol", "search", "2 more", "total", "per hour (UTC)"):
        assert text in out
    assert "1 request(s) have no known cost" in out
    # Without --by there is just the totals row.
    plain = spend(config).output
    assert "$1.937500" in plain
    assert "bob" not in plain


@pytest.mark.parametrize(
    ("args", "option", "hint"),
    [
        (["--by", "user,colour"], "--by", "allowed: user, feature, endpoint, model"),
        (["--by", "user;DROP TABLE requests"], "--by", "allowed:"),
        (["--by", 'user", 1 AS "x'], "--by", "allowed:"),
        (["--since", "yesterday"], "--since", "15m, 24h, 7d, 30d"),
        (["--since", "24h' OR '1'='1"], "--since", "15m, 24h, 7d, 30d"),
        (["--top", "0"], "--top", "1 to 1000"),
        (["--series", "week"], "--series", "minute, hour, day"),
        (["--series", "minute", "--since", "30d"], "--series", "coarser"),
    ],
)
def test_bad_options_exit_2_naming_the_option(
    config: Path, args: list[str], option: str, hint: str
) -> None:
    result = spend(config, *args)
    assert result.exit_code == 2, result.output
    assert option in result.output
    # Rich draws the message in a box and wraps it: compare the words alone.
    assert hint in " ".join(result.output.replace("\u2502", " ").split())
    db = str(config.parent / "log.db")
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 7


def test_a_missing_log_is_reported_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "log.db"
    path = tmp_path / "proctor.yaml"
    path.write_text(CONFIG % missing)
    result = spend(path, "--json")
    assert result.exit_code == 1
    assert "no request log" in result.output
    assert not missing.exists()
