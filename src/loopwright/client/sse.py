"""Server-Sent Events framing: lines in, frames out (https://html.spec.whatwg.org/#sse)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Frame:
    event: str
    data: str
    id: str | None


class FrameParser:
    """Feed it the stream's lines (without their line ending); it answers each frame as it
    completes. Comments (heartbeats) and frames without data are skipped."""

    __slots__ = ("_data", "_event", "_id")

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, line: str) -> Frame | None:
        if not line:
            if not self._data:
                self._event, self._id = "", None
                return None
            frame = Frame(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data, self._id = "", [], None
            return frame
        if line[0] == ":":
            return None
        field, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            self._id = value
        return None


def frames(lines: Iterable[str]) -> Iterator[Frame]:
    parser = FrameParser()
    for line in lines:
        frame = parser.feed(line)
        if frame is not None:
            yield frame
