"""Server-sent events: encoding for the front door, incremental decoding for upstream streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec


class Event(msgspec.Struct):
    data: str
    event: str | None = None


def encode_data(data: bytes) -> bytes:
    return b"data: " + data + b"\n\n"


def encode_event(event: str, data: bytes) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


DONE = b"data: [DONE]\n\n"


class SSEDecoder:
    """Turns arbitrary byte chunks into complete events (per the WHATWG SSE rules we need)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event: str | None = None

    def feed(self, chunk: bytes) -> list[Event]:
        self._buffer += chunk
        events: list[Event] = []
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                return events
            line = self._buffer[:newline].rstrip(b"\r")
            self._buffer = self._buffer[newline + 1 :]
            event = self._line(line.decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)

    def flush(self) -> list[Event]:
        """Events left when the stream ends without the final blank line."""
        events = self.feed(b"\n") if self._buffer else []
        if self._data:
            events.append(Event(data="\n".join(self._data), event=self._event))
            self._data, self._event = [], None
        return events

    def _line(self, line: str) -> Event | None:
        if not line:
            if not self._data:
                self._event = None
                return None
            event = Event(data="\n".join(self._data), event=self._event)
            self._data, self._event = [], None
            return event
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        return None


async def iter_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[Event]:
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.flush():
        yield event
