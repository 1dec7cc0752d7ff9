"""Parameter checking and the SQL built from it: whitelisted names, bound values only."""

from __future__ import annotations

import re

import pytest

from proctor.spend import DIMENSIONS, SpendParamError, SpendQuery, spend_query
from proctor.spend import sql as spend_sql
from proctor.spend.params import MAX_TOP, parse_by, parse_series, parse_since, parse_top
from tests.spend.seed import NOW

INJECTIONS = [
    "user;DROP TABLE requests",
    'user", (SELECT 1) AS "x',
    "user) UNION SELECT * FROM events --",
    "public_model",  # a column, but not a dimension name
    "key_id",
    "1",
]


def test_by_takes_dimension_names_in_order_without_repeats() -> None:
    assert parse_by(None) == () == parse_by("") == parse_by(" , ")
    assert parse_by("feature, USER ,feature,") == ("feature", "user")
    assert parse_by(",".join(DIMENSIONS)) == tuple(DIMENSIONS)


@pytest.mark.parametrize("text", INJECTIONS)
def test_by_refuses_anything_outside_the_whitelist(text: str) -> None:
    with pytest.raises(SpendParamError) as caught:
        parse_by(text)
    assert caught.value.param == "by"
    assert "allowed: user, feature, endpoint, model, deployment" in caught.value.message


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15m", 900),
        ("24h", 86400),
        ("7d", 7 * 86400),
        ("30d", 30 * 86400),
        ("90s", 90),
        ("2w", 14 * 86400),
        (" 1h ", 3600),
        (None, 86400),
    ],
)
def test_since_relative(text: str | None, seconds: int) -> None:
    assert parse_since(text, NOW) == NOW - seconds


@pytest.mark.parametrize(
    "text",
    [
        "24",
        "h",
        "-1h",
        "0h",
        "1y",
        "1.5h",
        "1e3h",
        "\uff12\uff14h",  # full-width digits
        "24h; DROP TABLE requests",
        "24h' OR '1'='1",
        "2023-13-01",
        "yesterday",
        "",
        "2999-01-01T00:00:00Z",
    ],
)
def test_since_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(SpendParamError) as caught:
        parse_since(text or "   ", NOW)
    assert caught.value.param == "since"
    assert "since" in caught.value.message


def test_since_message_shows_the_forms_it_takes_and_little_of_the_input() -> None:
    with pytest.raises(SpendParamError) as caught:
        parse_since("x" * 500, NOW)
    assert "15m, 24h, 7d, 30d" in caught.value.message
    assert "ISO 8601" in caught.value.message
    assert len(caught.value.message) < 300


def test_top_and_series() -> None:
    assert parse_top(None) == 10
    assert parse_top("3") == 3 == parse_top(3)
    for bad in ("0", str(MAX_TOP + 1), "abc", "1.5", "-1", "", "\u0663"):
        with pytest.raises(SpendParamError, match="top") as caught:
            parse_top(bad)
        assert caught.value.param == "top"
    assert parse_series(None) is None
    assert parse_series("") is None
    assert parse_series(" Hour ") == "hour"
    with pytest.raises(SpendParamError, match="minute, hour, day") as caught:
        parse_series("week")
    assert caught.value.param == "series"


def test_a_series_too_fine_for_its_window_is_refused() -> None:
    with pytest.raises(SpendParamError, match="coarser") as caught:
        spend_query(since="30d", series="minute", now=NOW)
    assert caught.value.param == "series"
    spend_query(since="24h", series="minute", now=NOW)  # 1441 buckets: fine


def _placeholders(sql: str, paramstyle: str) -> list[str]:
    pattern = {"qmark": r"\?", "format": r"%s", "dollar": r"\$\d+"}[paramstyle]
    return re.findall(pattern, sql)


@pytest.mark.parametrize("paramstyle", spend_sql.PARAMSTYLES)
def test_every_value_is_bound_in_every_paramstyle(paramstyle: str) -> None:
    query = spend_query(
        by="user,model,key", since="2023-11-14T22:00:00Z", top="7", series="hour", now=NOW
    )
    for statement in spend_sql.plan(query, paramstyle).values():
        marks = _placeholders(statement.sql, paramstyle)
        assert len(marks) == len(statement.params)
        if paramstyle == "dollar":
            assert marks == [f"${i}" for i in range(1, len(marks) + 1)]
        # No value is spelled out in the text: times, widths and limits are all parameters.
        assert str(int(query.since)) not in statement.sql
        assert "3600" not in statement.sql
        assert "LIMIT 7" not in statement.sql
    groups = spend_sql.groups(query, paramstyle)
    assert '"user"' in groups.sql
    assert '"public_model"' in groups.sql
    assert '"key_id"' in groups.sql
    assert groups.params[-1] == 7


def test_unknown_paramstyle_and_unlisted_dimension_fail_in_the_builder_too() -> None:
    query = spend_query(by="user", now=NOW)
    with pytest.raises(ValueError, match="paramstyle"):
        spend_sql.totals(query, "named")
    forged = SpendQuery(since=0.0, until=NOW, by=("user; DROP",))
    with pytest.raises(KeyError):
        spend_sql.groups(forged, "qmark")
