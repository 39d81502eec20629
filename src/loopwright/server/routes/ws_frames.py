"""What a client sends on the WebSocket: JSON text objects, read with bounds.

A frame that is not one gets an error frame with the code the HTTP API gives a body like it:
binary ``unsupported_media_type``, over ``max_body_bytes`` ``payload_too_large``, not JSON (or
nested deeper than the parser's limit of 200 levels) ``malformed_json``, not an object
``validation_error``. The socket stays open: only the frame is refused.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from starlette.types import Message

from loopwright.server.errors import error_body

_JSON_KINDS: dict[type, str] = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


class UnreadableFrame(Exception):
    """A frame refused before it is validated; ``reply`` is its error frame's body."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.reply = error_body(code, message, details)


def read_frame(message: Message, max_bytes: int) -> dict[str, Any]:
    """The JSON object a ``websocket.receive`` message carries."""
    text = message.get("text")
    if text is None:
        raise UnreadableFrame("unsupported_media_type", "frames are JSON text, not binary")
    if len(text) > max_bytes or (len(text) * 4 > max_bytes and len(text.encode()) > max_bytes):
        raise UnreadableFrame(
            "payload_too_large",
            f"frame exceeds {max_bytes} bytes",
            {"max_bytes": max_bytes},
        )
    try:  # pydantic-core's parser refuses deep nesting instead of recursing without bound
        frame = pydantic_core.from_json(text, allow_inf_nan=False)
    except ValueError as exc:
        raise UnreadableFrame("malformed_json", f"frame is not valid JSON: {exc}") from exc
    if not isinstance(frame, dict):
        raise UnreadableFrame(
            "validation_error",
            "a frame is a JSON object",
            [{"loc": [], "message": f"got {_JSON_KINDS.get(type(frame), 'a value')}"}],
        )
    return frame
