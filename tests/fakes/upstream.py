"""The fake upstream provider for tests; it lives in `proctor.testing` so `proctor drill`
and the benchmarks can use it too."""

from proctor.testing import answers
from proctor.testing.faults import FAULT_HEADER, FAULT_KINDS, STATUS_KINDS, Fault
from proctor.testing.upstream import FakeUpstream, RecordedRequest, closed_port_url

__all__ = [
    "FAULT_HEADER",
    "FAULT_KINDS",
    "STATUS_KINDS",
    "FakeUpstream",
    "Fault",
    "RecordedRequest",
    "answers",
    "closed_port_url",
]
