"""The system chromium for browser tests, driven by Playwright (no browser is downloaded).

When /usr/bin/chromium (or $PROCTOR_CHROMIUM) is missing the browser tests are SKIPPED with
a note saying how to get it (`make browser`); with PROCTOR_REQUIRE_SERVICES=1 they FAIL.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from playwright.sync_api import BrowserContext, sync_playwright

from tests.services import services_required

CHROMIUM = os.environ.get("PROCTOR_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing(problem: str) -> NoReturn:
    remedy = "run `make browser` (as root it installs Debian's chromium) or set PROCTOR_CHROMIUM"
    if services_required():
        pytest.fail(f"{problem}: browser tests are required ({remedy})", pytrace=False)
    pytest.skip(f"{problem}: skipping browser tests ({remedy})")


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    """A Playwright BrowserContext on the system chromium with a throwaway profile."""
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"no chromium at {CHROMIUM}")
    ARTIFACTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="proctor-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            context.close()
