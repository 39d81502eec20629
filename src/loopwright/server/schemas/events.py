"""The event log's response shapes, for the OpenAPI document.

The route returns events as ``Event.to_public()`` builds them; these models document that
shape (every envelope and payload becomes a component) without validating a page again.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, RootModel

from loopwright.domain import public_events

_PUBLIC_EVENT_REF = "#/components/schemas/PublicEvent"


class PublicEvent(RootModel[public_events.PublicEvent]):
    """Any event: its ``type`` names its envelope, and so the model of its ``payload``."""


class EventPage(BaseModel):
    items: list[PublicEvent]
    next_after: int


EVENTS_DESCRIPTION = """\
A page of the store's events as JSON (`EventPage`), or with `Accept: text/event-stream` a
Server-Sent Events stream: the backlog after the cursor, then live events. Each SSE frame's
`data` is one `PublicEvent`, its `event` the event's type and its `id` the event's seq (token
deltas have no `id`). The WebSocket at `/v1/stores/{store_id}/ws` sends the same `PublicEvent`s
as JSON text frames."""

EVENTS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": EventPage,
        "content": {
            "text/event-stream": {
                "itemSchema": {
                    "type": "object",
                    "required": ["event", "data"],
                    "properties": {
                        "event": {"type": "string", "description": "the event's type"},
                        "id": {"type": "string", "description": "the event's seq"},
                        "data": {
                            "type": "string",
                            "contentMediaType": "application/json",
                            "contentSchema": {"$ref": _PUBLIC_EVENT_REF},
                        },
                    },
                }
            }
        },
    }
}
