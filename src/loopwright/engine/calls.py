"""Turn a model response's tool-call parts into ``ToolCall``s, keeping bad JSON as an error."""

from __future__ import annotations

import json

from pydantic_ai.messages import ModelResponse, ToolCallPart

from loopwright.engine.types import ToolCall


def tool_calls_of(response: ModelResponse) -> list[ToolCall]:
    calls = []
    for part in response.parts:
        if isinstance(part, ToolCallPart):
            calls.append(_call(part))
    return calls


def _call(part: ToolCallPart) -> ToolCall:
    args = part.args
    if isinstance(args, dict):
        return ToolCall(part.tool_call_id, part.tool_name, dict(args))
    text = args or "{}"
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        return ToolCall(part.tool_call_id, part.tool_name, {}, f"arguments are not JSON: {exc}")
    if not isinstance(parsed, dict):
        return ToolCall(part.tool_call_id, part.tool_name, {}, "arguments must be a JSON object")
    return ToolCall(part.tool_call_id, part.tool_name, parsed)
