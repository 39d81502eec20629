"""Rebuild the model's context from persisted conversation items.

The session's messages are the only memory of a conversation: each run turns them back into
pydantic-ai messages. Assistant replies are stored whole (as pydantic-ai's JSON), so provider
details such as thinking signatures survive the round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_ai import ModelMessagesTypeAdapter
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelRequestPart,
    ModelResponse,
    SystemPromptPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

INTERRUPTED = "the tool call was interrupted before it returned a result"


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """A persisted message, as the engine needs it."""

    kind: str  # user | assistant | tool_result | reasoning | system | memory
    content: str
    data: dict[str, Any]
    key: str = ""
    """The persisted message's id: an assistant reply's ``ModelResponse`` is rebuilt from
    ``data`` once per process and reused (``_responses``); empty, it is rebuilt each time."""


def dump_response(response: ModelResponse) -> dict[str, Any]:
    dumped: list[dict[str, Any]] = ModelMessagesTypeAdapter.dump_python([response], mode="json")
    return dumped[0]


def load_response(data: dict[str, Any]) -> ModelResponse:
    message = ModelMessagesTypeAdapter.validate_python([data])[0]
    assert isinstance(message, ModelResponse)
    return message


RESPONSES_KEPT = 4096
_responses: dict[str, ModelResponse] = {}
"""Replies rebuilt by message id, the most recently used last. A stored reply never changes,
and every model step of a session rebuilds all its earlier replies: validating them again
was a tenth of the loop's time per step in a 10-turn conversation."""


def _response(item: HistoryItem) -> ModelResponse:
    if not item.key:
        return load_response(item.data["response"])
    found = _responses.pop(item.key, None)
    if found is None:
        found = load_response(item.data["response"])
        if len(_responses) >= RESPONSES_KEPT:
            del _responses[next(iter(_responses))]
    _responses[item.key] = found
    return found


def build_context(system_prompt: str, items: Sequence[HistoryItem]) -> list[ModelMessage]:
    messages: list[ModelMessage] = []
    pending: list[ModelRequestPart] = [SystemPromptPart(system_prompt)] if system_prompt else []
    open_calls: dict[str, str] = {}  # call_id -> tool name, awaiting a result

    def close_open_calls() -> None:
        for call_id, name in open_calls.items():
            pending.append(
                ToolReturnPart(name, {"error": INTERRUPTED}, tool_call_id=call_id, outcome="failed")
            )
        open_calls.clear()

    for item in items:
        if item.kind == "memory":  # long-term memories: beside the system prompt
            pending.append(SystemPromptPart(item.content))
        elif item.kind == "user":
            close_open_calls()
            pending.append(UserPromptPart(item.content))
        elif item.kind == "assistant" and "response" in item.data:
            close_open_calls()
            if pending:
                messages.append(ModelRequest(parts=pending))
                pending = []
            response = _response(item)
            messages.append(response)
            for part in response.parts:
                if isinstance(part, ToolCallPart):
                    open_calls[part.tool_call_id] = part.tool_name
        elif item.kind == "tool_result":
            call_id = str(item.data.get("call_id", ""))
            name = open_calls.pop(call_id, None)
            if name is None:
                continue  # a result whose call is not in the context (e.g. replayed twice)
            ok = bool(item.data.get("ok", True))
            pending.append(
                ToolReturnPart(
                    name,
                    item.data.get("result"),
                    tool_call_id=call_id,
                    outcome="success" if ok else "failed",
                )
            )
    close_open_calls()
    if pending:
        messages.append(ModelRequest(parts=pending))
    return messages
