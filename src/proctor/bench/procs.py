"""The bench's child processes: started with the same interpreter, pinned, stopped on exit.

Each child prints `listening <port>` when it is ready and then talks JSON lines on stdout.
Each one stops by itself when its standard input closes, so a bench that dies (Ctrl-C, a
crash) leaves nothing running; `stop` closes stdin, waits, and only then terminates.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from typing import IO


class ChildFailed(RuntimeError):
    """A bench process exited or did not answer; the message carries its stderr tail."""


class Child:
    def __init__(self, name: str, args: list[str], cpus: set[int] | None) -> None:
        self.name = name
        if cpus:
            args = [*args, "--cpus", ",".join(str(c) for c in sorted(cpus))]
        self.cpus = cpus
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self._lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True, name=f"{name}-stdout").start()
        self.port = 0

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(b"")

    def recv(self, timeout: float) -> bytes:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise ChildFailed(f"{self.name} did not answer within {timeout:.0f} s") from None
        if not line:
            self.process.wait(timeout=5)
            raise ChildFailed(
                f"{self.name} exited with code {self.process.returncode}: {self.stderr_tail()}"
            )
        return line

    def wait_ready(self, timeout: float = 30.0) -> int:
        line = self.recv(timeout).decode().strip()
        if not line.startswith("listening "):
            raise ChildFailed(f"{self.name} said {line!r} instead of `listening <port>`")
        self.port = int(line.split()[1])
        return self.port

    def send(self, line: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + b"\n")
        self.process.stdin.flush()

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far, all threads (0 where unknown)."""
        try:
            with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            return 0.0
        # After the command name: state is field 3, utime and stime are fields 14 and 15.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stderr_tail(self, size: int = 2000) -> str:
        self._stderr.seek(0, os.SEEK_END)
        end = self._stderr.tell()
        self._stderr.seek(max(0, end - size))
        return self._stderr.read().decode(errors="replace").strip() or "(no output)"

    def request_stop(self) -> None:
        """Close stdin, which makes the child exit; `stop` then waits for it."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._stderr.close()


@dataclass(frozen=True)
class Placement:
    """Which CPUs each process may use; `None` leaves it to the scheduler."""

    gateway: set[int] | None
    upstream: set[int] | None
    load: set[int] | None

    def describe(self) -> str:
        if self.gateway is None:
            return "not pinned: the OS scheduler shares the CPUs between the three processes"

        def cpus(s: set[int] | None) -> str:
            return ",".join(str(c) for c in sorted(s or ()))

        return (
            f"pinned with sched_setaffinity: gateway on CPU {cpus(self.gateway)}; "
            f"upstream on CPU {cpus(self.upstream)}; load generator on CPU {cpus(self.load)}"
        )


def placement(pin: bool) -> Placement:
    """The gateway gets a CPU of its own; upstream and load generator share the others.

    On 2 CPUs the upstream and the load generator share the second one. Both paths (direct
    and through the gateway) see that same sharing, so it is part of the baseline.
    """
    if not pin or not hasattr(os, "sched_getaffinity"):
        return Placement(None, None, None)
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return Placement(None, None, None)
    if len(allowed) == 2:
        return Placement({allowed[0]}, {allowed[1]}, {allowed[1]})
    return Placement({allowed[0]}, {allowed[1]}, set(allowed[2:]))


def pin_self(cpus: set[int] | None) -> None:
    """Keep the (mostly idle) orchestrator off the gateway's CPU."""
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpus)
