"""The dashboard in a real browser against a real gateway: the overview agrees with the API,
the requests table filters, and a request opens as a waterfall. Screenshots go to
test-artifacts/ for a human to look at."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

from tests.gateway_server import ServerThread, running_gateway, sim_config
from tests.ui.conftest import ARTIFACTS

CHAT = {"messages": [{"role": "user", "content": "hello there"}]}
SEEDED = 13


def _config(tmp_path: Path, **overrides: Any) -> Any:
    return sim_config(
        tmp_path,
        store={"url": f"sqlite:///{tmp_path / 'proctor.db'}", "flush_interval_ms": 20},
        providers={"sim": {"type": "sim"}, "bad": {"type": "sim", "error_rate": 1.0}},
        models={
            "sim-small": {"deployments": [{"provider": "sim", "model": "small"}]},
            # Every call to `bad` fails, so sim-large answers through its fallback: 2+ attempts.
            "sim-large": {
                "deployments": [{"provider": "bad", "model": "large"}],
                "fallbacks": ["sim-small"],
                "retry": {"attempts": 0},
            },
            "sim-down": {
                "deployments": [{"provider": "bad", "model": "down"}],
                "retry": {"attempts": 0},
            },
        },
        **overrides,
    )


def _seed(http: httpx.Client) -> dict[str, list[str]]:
    """A dozen chats over two models and two features, one stream, one error, one feedback."""
    ids: dict[str, list[str]] = {"sim-small": [], "sim-large": [], "sim-down": []}
    for i in range(12):
        model = "sim-small" if i % 3 else "sim-large"
        headers = {
            "x-proctor-feature": "search" if i % 2 else "chat",
            "x-proctor-user": f"u{i % 4}",
        }
        body = {**CHAT, "model": model, "stream": i == 4}
        reply = http.post("/v1/chat/completions", json=body, headers=headers)
        assert reply.status_code == 200, reply.text
        ids[model].append(reply.headers["x-request-id"])
    reply = http.post("/v1/chat/completions", json={**CHAT, "model": "sim-down"})
    assert reply.status_code >= 500, reply.text
    ids["sim-down"].append(reply.headers["x-request-id"])
    rated = {"request_id": ids["sim-small"][0], "score": 1, "comment": "great"}
    assert http.post("/v1/feedback", json=rated).status_code == 200
    deadline = time.monotonic() + 10
    while len(http.get("/admin/requests", params={"limit": 100}).json()["data"]) < SEEDED:
        assert time.monotonic() < deadline, "the writer did not flush the seeded requests"
        time.sleep(0.05)
    return ids


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with running_gateway(_config(tmp_path_factory.mktemp("ui"))) as server:
        yield server


@pytest.fixture(scope="module")
def seeded(gateway: ServerThread) -> dict[str, list[str]]:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        return _seed(http)


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: _note(problems, m))
    page.on("pageerror", lambda e: problems.append(str(e)))
    yield page
    page.close()
    assert problems == [], problems  # no script errors, no CSP violations


def _note(problems: list[str], message: ConsoleMessage) -> None:
    if message.type == "error":
        problems.append(message.text)


def _open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("main[data-ready='1']")


def _money(text: str) -> float:
    return float(text.replace("$", "").replace(",", ""))


def test_assets_have_types_and_a_strict_csp(gateway: ServerThread) -> None:
    with httpx.Client(base_url=gateway.url) as http:
        assert http.get("/ui").headers["location"] == "/ui/"
        for path, kind in (("/ui/", "text/html"), ("/ui/app.js", "text/javascript")):
            reply = http.get(path)
            assert reply.status_code == 200
            assert reply.headers["content-type"].startswith(kind)
            assert "script-src 'self'" in reply.headers["content-security-policy"]
            assert reply.headers["x-content-type-options"] == "nosniff"
        assert http.get("/ui/app.css").headers["content-type"].startswith("text/css")
        assert http.get("/ui/nope.js").status_code == 404
        assert http.get("/uinope").status_code == 404


def test_overview_matches_the_stats_api(
    page: Page, gateway: ServerThread, seeded: dict[str, list[str]]
) -> None:
    totals = httpx.get(f"{gateway.url}/admin/stats", params={"since": "24h"}).json()["totals"]
    assert totals["requests"] == SEEDED
    _open(page, f"{gateway.url}/ui/#/overview")
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)
    assert page.inner_text("[data-card=requests] .value") == str(SEEDED)
    shown = _money(page.inner_text("[data-card=cost] .value"))
    assert shown == pytest.approx(totals["cost_usd"], rel=0.01)
    assert page.locator("svg.timechart").count() >= 2
    assert page.locator("main table tbody tr").count() == 3  # by model: small, large, down
    page.select_option("select[name=by]", "feature")
    page.wait_for_selector("main[data-ready='1']")
    keys = page.locator("main table tbody tr td:first-child").all_inner_texts()
    assert {"chat", "search"} <= set(keys)


def test_requests_filter_by_model_and_open_a_waterfall(
    page: Page, gateway: ServerThread, seeded: dict[str, list[str]]
) -> None:
    _open(page, f"{gateway.url}/ui/#/requests")
    assert page.locator("tr[data-id]").count() == SEEDED
    page.fill("input[name=model]", "sim-large")
    page.press("input[name=model]", "Enter")
    page.wait_for_url(re.compile(r"model=sim-large"))
    page.wait_for_selector("main[data-ready='1']")
    # `data-ready` may still be the unfiltered page's for a moment: wait for the new rows.
    expect(page.locator("tr[data-id]")).to_have_count(len(seeded["sim-large"]))
    shown = page.locator("tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert sorted(shown) == sorted(seeded["sim-large"])
    page.screenshot(path=str(ARTIFACTS / "requests.png"), full_page=True)

    request_id = seeded["sim-large"][0]
    page.click(f"tr[data-id='{request_id}']")
    page.wait_for_url(re.compile("#/request/"))
    page.wait_for_selector("main[data-ready='1']")
    page.wait_for_selector("svg.waterfall rect[data-kind=stage]")
    detail = httpx.get(f"{gateway.url}/admin/requests/{request_id}").json()
    stage_bars = page.locator("svg.waterfall rect[data-kind=stage]").count()
    attempt_bars = page.locator("svg.waterfall rect[data-kind=attempt]")
    assert stage_bars == len(detail["stage_ms"]) > 0
    assert attempt_bars.count() == len(detail["attempts"]) >= 2
    assert "bar err" in (attempt_bars.first.get_attribute("class") or "")
    page.screenshot(path=str(ARTIFACTS / "request-detail.png"), full_page=True)


def test_cost_and_events_pages_render(
    page: Page, gateway: ServerThread, seeded: dict[str, list[str]]
) -> None:
    _open(page, f"{gateway.url}/ui/#/cost")
    assert page.locator("main table tbody tr").count() >= 2
    page.screenshot(path=str(ARTIFACTS / "cost.png"), full_page=True)
    _open(page, f"{gateway.url}/ui/#/events")
    assert page.locator("main p.error").count() == 0
    page.screenshot(path=str(ARTIFACTS / "events.png"), full_page=True)


def test_topics_page_lists_the_clustered_queries(
    page: Page, gateway: ServerThread, seeded: dict[str, list[str]]
) -> None:
    # Clustering runs in the background (flush ~1 s): wait for the API to have topics.
    deadline = time.monotonic() + 30
    while True:
        body = httpx.get(f"{gateway.url}/admin/topics", timeout=10).json()
        if body["data"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert body["data"], "no topic was formed from the seeded queries"
    assert sum(t["requests"] for t in body["data"]) >= 1
    _open(page, f"{gateway.url}/ui/#/topics")
    assert page.locator("main table tbody tr").count() == len(body["data"])
    assert page.locator("main p.error").count() == 0
    page.screenshot(path=str(ARTIFACTS / "topics.png"), full_page=True)


def test_a_401_asks_for_the_admin_key(browser: BrowserContext, tmp_path: Path) -> None:
    config = _config(tmp_path, server={"admin_key": "adm-ui-s3cret"})
    with running_gateway(config) as server:
        page = browser.new_page()
        page.goto(f"{server.url}/ui/#/requests")
        page.wait_for_selector("#login:not([hidden])")
        page.screenshot(path=str(ARTIFACTS / "login.png"))
        page.fill("#login-key", "wrong")
        page.click("#login button")
        page.wait_for_selector("#login-error:text('refused')")
        page.fill("#login-key", "adm-ui-s3cret")
        page.click("#login button")
        page.wait_for_selector("main[data-ready='1']")
        assert page.locator("main .empty").count() == 1  # signed in; no requests yet
        assert page.evaluate("sessionStorage.getItem('proctor.adminKey')") == "adm-ui-s3cret"
        page.close()
