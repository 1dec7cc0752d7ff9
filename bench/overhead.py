"""Gateway overhead and throughput against a fast local upstream.

The same code as `proctor bench overhead`; options are passed through, e.g.

    .venv/bin/python bench/overhead.py --requests 2000 --rounds 3 --json
    .venv/bin/python bench/overhead.py --compare-metering   # cost and limit stages (issue 4)

Figures and the command that produced them are recorded in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import sys

from proctor.cli.bench import bench_app

if __name__ == "__main__":
    bench_app(["overhead", *sys.argv[1:]], prog_name="bench/overhead.py")
