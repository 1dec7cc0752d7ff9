"""`proctor bench overhead` in its smallest form: it runs, it answers JSON of the documented
shape, the gateway answered 200s and, with metering on, the cost and limit stages ran.

No timing is asserted: figures belong in docs/BENCHMARKS.md, not in a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.services import redis_url

SMALLEST = [
    "--requests", "30", "--warmup", "5", "--rounds", "1", "--concurrency", "1",
    "--no-throughput", "--no-pin", "--json",
]  # fmt: skip
CELL_KEYS = {"stream", "concurrency", "direct", "gateway", "added", "gateway_cpu_us", "errors"}


def _bench(*extra: str) -> dict[str, Any]:
    command = [sys.executable, "-c", "from proctor.cli.main import main; main()"]
    done = subprocess.run(
        [*command, "bench", "overhead", *SMALLEST, *extra],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _check_shape(report: dict[str, Any], metering: str) -> dict[str, Any]:
    """`report` is the whole report, or one section of `compare`; its check is returned."""
    assert {"cells", "throughput", "metering", "check"} <= set(report)
    assert report["metering"] == metering
    assert report["throughput"] is None
    assert [(c["stream"], c["concurrency"]) for c in report["cells"]] == [(False, 1), (True, 1)]
    for cell in report["cells"]:
        assert set(cell) >= CELL_KEYS
        assert {"p50", "p90", "p99", "mean", "max"} <= set(cell["added"])
        assert cell["errors"] == 0
    check: dict[str, Any] = report["check"]
    assert check["metering"] == metering
    assert check["ok"] == 60  # 30 measured requests, whole and streamed, all answered 200
    assert check["non_stream_ok"] == 30
    assert check["backend_failures"] == 0
    return check


def test_overhead_with_metering_in_memory() -> None:
    check = _check_shape(_bench("--metering", "memory"), "memory")
    _check_metered(check)


def test_compare_metering_off_memory_redis() -> None:
    report = _bench("--compare-metering", "--redis-url", redis_url())
    off = _check_shape(report, "off")
    assert off["with_cost"] == off["with_ratelimit"] == off["logged_with_cost"] == 0
    assert off["logged"] >= 60
    assert [s["metering"] for s in report["compare"]] == ["memory", "redis"]
    for section in report["compare"]:
        assert {"cells", "throughput", "check", "versus_off"} <= set(section)
        assert _check_shape(section, section["metering"]) == section["check"]
        _check_metered(section["check"])
        assert [d["phase"] for d in section["versus_off"]] == ["non-stream c=1", "stream c=1"]
    redis = report["compare"][1]["check"]
    assert redis["redis_keys"] > 0  # the counters lived in Redis (and were deleted)
    assert redis["redis_cpu_us"] is not None


def _check_metered(check: dict[str, Any]) -> None:
    """Every 200 was metered: a cost on each whole answer (a stream's cost is known only
    after its headers are sent), rate-limit headers on all, a cost on every logged row."""
    assert check["with_cost"] == 30
    assert check["with_ratelimit"] == 60
    assert check["logged"] >= 60
    assert check["logged_with_cost"] == check["logged"]
