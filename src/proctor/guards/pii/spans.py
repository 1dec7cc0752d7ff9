"""The character spans already claimed by a detector, so that later ones skip them.

A sorted list of disjoint intervals (overlapping ones are merged as they are added) answers
"does this candidate overlap a claimed span?" with one binary search: a text with tens of
thousands of candidates (a megabyte of addresses) stays linear-logarithmic, where scanning a
plain list for every candidate would be quadratic.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right


class Spans:
    __slots__ = ("_ends", "_starts")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __len__(self) -> int:
        return len(self._starts)

    def add(self, start: int, end: int) -> None:
        """Claims `start..end`, merged with the claimed spans it overlaps or touches."""
        starts, ends = self._starts, self._ends
        if not starts or start > ends[-1]:  # the usual case: spans come in order
            starts.append(start)
            ends.append(end)
            return
        first = bisect_left(ends, start)  # the first span ending at or after `start`
        last = bisect_right(starts, end)  # past the last span starting at or before `end`
        if first < last:
            start, end = min(start, starts[first]), max(end, ends[last - 1])
        starts[first:last] = [start]
        ends[first:last] = [end]

    def overlaps(self, start: int, end: int) -> bool:
        """Whether `start..end` shares a character with a claimed span."""
        i = bisect_left(self._starts, end)  # spans starting before `end` are [0, i)
        return i > 0 and self._ends[i - 1] > start

    def starts_within(self, start: int, end: int) -> bool:
        """Whether a claimed span starts in `start..end` (contact details below a name)."""
        i = bisect_left(self._starts, start)
        return i < len(self._starts) and self._starts[i] < end
