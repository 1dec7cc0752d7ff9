"""Benchmarks of the gateway itself: `proctor bench overhead` and `proctor bench throughput`.

Three processes on loopback, so that none of them measures itself:

    upstream.py   a fast OpenAI-compatible server (raw asyncio + httptools), answers at once
    gateway.py    a real `proctor serve` (uvicorn, uvloop, httptools) pointed at the upstream
    load.py       a closed-loop load generator (aiohttp, keep-alive), driven over stdin/stdout

`runner.py` starts them, pins them to CPUs where it can, alternates direct and gateway phases
and reduces the rounds to medians (`results.py`); `report.py` prints the tables. With
`--metering memory|redis` the gateway also runs the cost and limit stages (`metering.py`);
`--compare-metering` runs one gateway per mode in the same rounds (`compare.py`).
"""
