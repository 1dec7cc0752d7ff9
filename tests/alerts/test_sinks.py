"""Sinks against a real HTTP server on loopback: payload shapes, retries, timeouts, counts."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest

from proctor.alerts import AlertEngine
from tests.alerts.helpers import Clock, alerts_config, request
from tests.alerts.receiver import Answer, Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def _engine(receiver: Receiver, sinks: str, rules: str, clock: Clock) -> AlertEngine:
    text = f"sinks: {sinks % {'url': receiver.url}}\nrules: {rules}\n"
    return AlertEngine(alerts_config(text), clock=clock)


EVENT_RULE = "[{name: budget, event: budget_threshold, severity: critical}]"


async def test_webhook_posts_the_alert_as_json_with_its_headers(receiver: Receiver) -> None:
    sinks = "[{type: webhook, url: '%(url)s/hook', headers: {Authorization: Bearer s3cret}}]"
    alerts = _engine(receiver, sinks, EVENT_RULE, Clock())
    [alert] = alerts.on_event("budget_threshold", "team:ml", {"fraction": 0.8, "limit_usd": 100})
    await alerts.close()
    [got] = receiver.received
    assert got.path == "/hook"
    assert got.headers["authorization"] == "Bearer s3cret"
    assert got.headers["content-type"] == "application/json"
    body = got.body
    assert body["id"] == alert.id
    assert body["key"] == "budget/team:ml"
    assert (body["rule"], body["status"], body["severity"]) == ("budget", "firing", "critical")
    assert (body["kind"], body["event"], body["subject"]) == (
        "event",
        "budget_threshold",
        "team:ml",
    )
    assert body["detail"] == {"fraction": 0.8, "limit_usd": 100}
    assert body["at_iso"].endswith("Z")
    assert body["test"] is False
    assert alerts.dispatcher.stats["webhook"].sent == 1


async def test_slack_gets_text_and_blocks(receiver: Receiver) -> None:
    clock = Clock()
    sinks = "[{type: slack, url: '%(url)s/services/T/B/x'}]"
    rules = "[{name: errors, metric: error_rate, window: 5m, above: 0.05, model: chat}]"
    alerts = _engine(receiver, sinks, rules, clock)
    alerts.observe([request(status=500), request(status=200)])
    [alert] = alerts.evaluate()
    await alerts.close()
    body = receiver.wait_for(1)[0].body
    assert set(body) == {"text", "blocks"}
    assert "errors" in body["text"]
    assert "50%" in body["text"]
    kinds = [block["type"] for block in body["blocks"]]
    assert kinds == ["header", "section", "section", "context"]
    assert body["blocks"][0]["text"] == {
        "type": "plain_text",
        "text": "Alert: errors",
        "emoji": True,
    }
    fields = {
        f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in body["blocks"][2]["fields"]
    }
    assert fields["*Subject*"] == "model=chat"
    assert fields["*Value*"] == "50%"
    assert all(f["type"] == "mrkdwn" for f in body["blocks"][2]["fields"])
    assert alert.key in body["blocks"][3]["elements"][0]["text"]


async def test_slack_text_is_escaped(receiver: Receiver) -> None:
    sinks = "[{type: slack, url: '%(url)s/s'}]"
    alerts = _engine(receiver, sinks, EVENT_RULE, Clock())
    alerts.on_event("budget_threshold", "<!channel> & co", {})
    await alerts.close()
    text = receiver.received[0].body["text"]
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; &amp; co" in text


async def test_a_failing_sink_is_retried_and_counted(receiver: Receiver) -> None:
    sinks = "[{type: webhook, url: '%(url)s/h', retries: 2, backoff_s: 0.01}]"
    alerts = _engine(receiver, sinks, EVENT_RULE, Clock())
    receiver.answer_next(Answer(503, "busy"), count=2)
    alerts.on_event("budget_threshold", "a", {})
    await alerts.dispatcher.drain(5)
    stats = alerts.dispatcher.stats["webhook"]
    assert (stats.sent, stats.failed, stats.retries) == (1, 0, 2)
    assert len(receiver.received) == 3

    receiver.answer_next(Answer(500, "down"), count=3)
    alerts.on_event("budget_threshold", "b", {})
    await alerts.close()
    assert (stats.sent, stats.failed, stats.retries) == (1, 1, 4)


async def test_a_client_error_is_not_retried(receiver: Receiver) -> None:
    sinks = "[{type: webhook, url: '%(url)s/h', retries: 3, backoff_s: 0.01}]"
    alerts = _engine(receiver, sinks, EVENT_RULE, Clock())
    receiver.answer_next(Answer(400, "bad payload"))
    alerts.on_event("budget_threshold", "a", {})
    await alerts.close()
    assert len(receiver.received) == 1
    assert alerts.dispatcher.stats["webhook"].failed == 1


async def test_a_hanging_sink_never_blocks_evaluation(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    sinks = (
        "[{type: webhook, name: slow, url: '%(url)s/slow', timeout_s: 0.2, retries: 1, "
        "backoff_s: 0.01}, {type: slack, url: '%(url)s/fast'}]"
    )
    rules = "[{name: e, metric: errors, window: 1m, above: 0}, " + EVENT_RULE[1:]
    alerts = _engine(receiver, sinks, rules, clock)
    receiver.answer_next(Answer(200, delay_s=0.4), count=4, path="/slow")  # every attempt
    alerts.observe([request(status=500)])
    start = time.perf_counter()
    assert len(alerts.evaluate()) == 1
    assert len(alerts.on_event("budget_threshold", "x", {})) == 1
    assert time.perf_counter() - start < 0.05  # handed over, not sent
    assert alerts.dispatcher.pending == 4
    with caplog.at_level(logging.WARNING, logger="proctor.alerts"):
        await alerts.dispatcher.drain(5)
    slow, fast = alerts.dispatcher.stats["slow"], alerts.dispatcher.stats["slack"]
    assert (fast.sent, fast.failed) == (2, 0)
    assert (slow.sent, slow.failed, slow.retries) == (0, 2, 2)
    assert "no answer within 0.2 s" in caplog.text
    await alerts.close()


async def test_an_unreachable_sink_fails_fast_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from proctor.testing.upstream import closed_port_url

    sinks = f"[{{type: webhook, url: '{closed_port_url()}/h', retries: 1, backoff_s: 0.01}}]"
    alerts = AlertEngine(alerts_config(f"sinks: {sinks}\nrules: {EVENT_RULE}"), clock=Clock())
    with caplog.at_level(logging.WARNING, logger="proctor.alerts"):
        alerts.on_event("budget_threshold", "x", {})
        await alerts.close()
    assert alerts.dispatcher.stats["webhook"].failed == 1
    assert "failed after 2 attempt(s)" in caplog.text


async def test_too_many_in_flight_are_dropped_and_counted(receiver: Receiver) -> None:
    sinks = "[{type: webhook, url: '%(url)s/h', timeout_s: 1}]"
    alerts = AlertEngine(
        alerts_config(
            f"sinks: {sinks % {'url': receiver.url}}\nrules: {EVENT_RULE}\nmax_pending: 2"
        ),
        clock=Clock(),
    )
    receiver.answer_next(Answer(200, delay_s=0.2), count=2)
    for subject in ("a", "b", "c"):
        alerts.on_event("budget_threshold", subject, {})
    stats = alerts.dispatcher.stats["webhook"]
    assert stats.dropped == 1
    await alerts.close()
    assert stats.sent == 2
    alerts.on_event("budget_threshold", "d", {})  # after close: dropped, never raised
    assert stats.dropped == 2


async def test_the_log_sink_is_the_default(caplog: pytest.LogCaptureFixture) -> None:
    alerts = AlertEngine(alerts_config(f"rules: {EVENT_RULE}"), clock=Clock())
    with caplog.at_level(logging.WARNING, logger="proctor.alerts"):
        alerts.on_event("budget_threshold", "team:ml", {})
        await alerts.close()
    assert "ALERT firing [critical] budget: budget_threshold on team:ml" in caplog.text
    assert alerts.dispatcher.stats["log"].sent == 1


async def test_evaluation_loop_runs_in_the_background(receiver: Receiver) -> None:
    sinks = "[{type: webhook, url: '%(url)s/h'}]"
    text = f"sinks: {sinks % {'url': receiver.url}}\nevaluate_every: 0.05\n"
    text += "rules: [{name: e, metric: errors, window: 1m, above: 0}]"
    alerts = AlertEngine(alerts_config(text))
    alerts.start()
    alerts.observe([request(status=500)])
    got = await asyncio.to_thread(receiver.wait_for, 1, 2.0)
    await alerts.close()
    assert got[0].body["rule"] == "e"
