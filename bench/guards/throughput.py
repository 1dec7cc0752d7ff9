"""Throughput of one gateway process with the default guards, against guards off.

    .venv/bin/python bench/guards/throughput.py [--rounds 3] [--duration 4] [--concurrency 64]

It runs what `proctor bench throughput` runs (separate upstream, gateway and load-generator
processes, pinned, request log on; see docs/BENCHMARKS.md, "Gateway overhead"), once with
`guards: {enabled: false}` and once with no `guards` section (the defaults), alternating
round by round so that the shared machine's noise falls on both. The load generator's
message is the bench's usual short one ("Say hello to the benchmark."), so this measures
the guards' fixed cost per request; bench/guards/latency.py measures a 1,000-character
message. Reported: req/s and the gateway's CPU time per request (steadier than req/s on a
shared machine), per round and their medians, and the ratios guards-on / guards-off.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics

from proctor.bench.runner import Options, run

# proctor.bench.gateway reads extra config sections from here (its A/B hook).
_SECTIONS_ENV = "PROCTOR_BENCH_OBSERVABILITY"
MODES = {"guards off": json.dumps({"guards": {"enabled": False}}), "guards default": "on"}


def _quiet(done: int, total: int, fraction: float, label: str) -> None:
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    options = Options(
        rounds=1,
        duration_s=args.duration,
        throughput_concurrency=args.concurrency,
        throughput_rounds=1,
    )
    rps: dict[str, list[float]] = {m: [] for m in MODES}
    cpu: dict[str, list[float]] = {m: [] for m in MODES}
    for round_no in range(args.rounds):
        order = list(MODES) if round_no % 2 == 0 else list(reversed(MODES))
        for mode in order:
            os.environ[_SECTIONS_ENV] = MODES[mode]
            report = run(options, _quiet, latency=False, capacity=True)
            result = report.throughput
            assert result is not None
            rps[mode].append(result.gateway_rps)
            cpu[mode].append(result.gateway_cpu_us)
            print(
                f"round {round_no + 1} {mode}: {result.gateway_rps:.0f} req/s, "
                f"{result.gateway_cpu_us:.0f} us CPU/request, errors {result.errors}"
            )
    print("\n| | req/s (median) | gateway CPU per request (median) |")
    print("|---|---|---|")
    for mode in MODES:
        median_rps, median_cpu = statistics.median(rps[mode]), statistics.median(cpu[mode])
        print(f"| {mode} | {median_rps:.0f} | {median_cpu:.0f} us |")
    off, on = "guards off", "guards default"
    print(
        f"| ratio on/off | {statistics.median(rps[on]) / statistics.median(rps[off]):.3f} "
        f"| {statistics.median(cpu[on]) / statistics.median(cpu[off]):.3f} |"
    )


if __name__ == "__main__":
    main()
