"""Large inputs: every detection is acted on, the request log gets a bounded number of
findings, and a prompt past `LARGE_INPUT_CHARS` is scanned off the event loop's thread with
the same result."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from proctor.guards import inputs
from proctor.guards.replies import GuardBlocked
from proctor.stages import guard_in
from proctor.testing.upstream import FakeUpstream
from tests.guards.guarded import guarded, run, sent_text, user

EMAILS = " ".join(f"write to person{i}@example.com today." for i in range(300))


async def test_every_address_is_redacted_but_findings_are_bounded(
    tmp_path: Path, fake_upstream: FakeUpstream
) -> None:
    async with guarded(tmp_path, fake_upstream) as gateway:
        ctx, _ = await run(gateway, user(EMAILS))
    assert "@example.com" not in sent_text(fake_upstream)
    pii = [f for f in ctx.findings if f.rule == "pii"]
    assert len(pii) == inputs.MAX_FINDINGS_PER_CHECK + 1
    summary = pii[-1]
    assert summary.detail == "200 more detections acted on but not recorded one by one"


async def test_a_block_past_the_cap_still_names_its_cause(
    tmp_path: Path, fake_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inputs, "MAX_FINDINGS_PER_CHECK", 0)
    async with guarded(tmp_path, fake_upstream, {"pii": {"action": "block"}}) as gateway:
        with pytest.raises(GuardBlocked, match="`pii`"):
            await run(gateway, user("mail me at ann@example.com"))
    assert fake_upstream.requests == []


async def test_a_large_prompt_is_scanned_off_the_loop_thread_with_the_same_result(
    tmp_path: Path, fake_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real = inputs.run_checks

    def spy(*args: object, **kwargs: object) -> object:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(guard_in, "run_checks", spy)
    filler = "The quarterly report covers revenue, hiring and the office move. " * 600
    assert len(filler) >= guard_in.LARGE_INPUT_CHARS
    async with guarded(tmp_path, fake_upstream) as gateway:
        ctx, _ = await run(gateway, user(filler + " Reach me at ann@example.com."))
        small, _ = await run(gateway, user("Reach me at bob@example.com."))
    main = threading.main_thread().name
    assert threads[0] != main  # the large prompt
    assert threads[-1] == main  # the small one stays inline
    assert "ann@example.com" not in sent_text(fake_upstream)
    assert [f.type for f in ctx.findings if f.rule == "pii"] == ["EMAIL"]
    assert [f.type for f in small.findings if f.rule == "pii"] == ["EMAIL"]
