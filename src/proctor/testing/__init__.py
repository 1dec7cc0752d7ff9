"""Test support that ships with proctor: a fake upstream provider with fault injection.

Used by proctor's own tests and benchmarks and by `proctor drill`; usable by anyone testing
code that sits behind proctor, the way httpx ships `MockTransport`.
"""
