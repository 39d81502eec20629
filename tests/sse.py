"""A small Server-Sent Events reader for tests (the wire format, parsed by hand)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Frame:
    id: str | None
    event: str | None
    data: dict[str, Any]


async def frames(response: httpx.Response) -> AsyncIterator[Frame]:
    """Yield each event frame; comments (heartbeats) are skipped."""
    fields: dict[str, str] = {}
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield Frame(fields.get("id"), fields.get("event"), json.loads("\n".join(data)))
            fields, data = {}, []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            else:
                fields[name] = value
