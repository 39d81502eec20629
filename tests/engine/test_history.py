"""Rebuilding the model context from persisted messages."""

from __future__ import annotations

from pydantic_ai.messages import (
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from loopwright.engine.calls import tool_calls_of
from loopwright.engine.history import INTERRUPTED, HistoryItem, build_context, dump_response


def assistant(*parts: TextPart | ToolCallPart) -> HistoryItem:
    return HistoryItem(
        "assistant", "", {"response": dump_response(ModelResponse(parts=list(parts)))}
    )


def test_round_trip_with_tool_results_in_order() -> None:
    items = [
        HistoryItem("user", "make a task", {}),
        assistant(ToolCallPart("create_task", {"title": "x"}, tool_call_id="c1")),
        HistoryItem("tool_result", "", {"call_id": "c1", "ok": True, "result": {"id": 1}}),
        assistant(TextPart("done")),
        HistoryItem("reasoning", "thinking...", {}),
        HistoryItem("user", "thanks", {}),
    ]
    context = build_context("be brief", items)
    assert isinstance(context[0], ModelRequest)
    assert isinstance(context[0].parts[0], SystemPromptPart)
    assert isinstance(context[0].parts[1], UserPromptPart)
    assert isinstance(context[1], ModelResponse)
    returned = context[2].parts[0]
    assert isinstance(returned, ToolReturnPart)
    assert (returned.tool_call_id, returned.content) == ("c1", {"id": 1})
    assert isinstance(context[3], ModelResponse)
    assert isinstance(context[4].parts[0], UserPromptPart)
    assert len(context) == 5


def test_calls_without_results_are_closed_as_interrupted() -> None:
    items = [
        HistoryItem("user", "go", {}),
        assistant(ToolCallPart("list_tasks", {}, tool_call_id="c9")),
        HistoryItem("user", "are you there?", {}),
    ]
    context = build_context("", items)
    closing = context[2].parts[0]
    assert isinstance(closing, ToolReturnPart)
    assert closing.outcome == "failed"
    assert closing.content == {"error": INTERRUPTED}
    assert isinstance(context[2].parts[1], UserPromptPart)


def test_failed_results_are_marked_failed() -> None:
    items = [
        HistoryItem("user", "go", {}),
        assistant(ToolCallPart("read_task", {"task_id": "t"}, tool_call_id="c1")),
        HistoryItem("tool_result", "", {"call_id": "c1", "ok": False, "result": {"error": "nope"}}),
    ]
    part = build_context("", items)[-1].parts[0]
    assert isinstance(part, ToolReturnPart)
    assert part.outcome == "failed"


def test_tool_call_arguments_that_are_not_json_become_errors() -> None:
    response = ModelResponse(
        parts=[
            ToolCallPart("a", '{"x": 1}', tool_call_id="1"),
            ToolCallPart("b", "{not json", tool_call_id="2"),
            ToolCallPart("c", "[1, 2]", tool_call_id="3"),
        ]
    )
    good, bad, wrong = tool_calls_of(response)
    assert good.arguments == {"x": 1} and good.arguments_error is None
    assert bad.arguments_error is not None and "not JSON" in bad.arguments_error
    assert wrong.arguments_error == "arguments must be a JSON object"


def test_a_stored_reply_is_rebuilt_once_per_process() -> None:
    """Keyed by its message id, a reply is validated once; later steps reuse it."""
    data = {"response": dump_response(ModelResponse(parts=[TextPart("hi")]))}
    items = [HistoryItem("user", "go", {}), HistoryItem("assistant", "hi", data, "msg_cached")]
    first = build_context("", items)[1]
    data["response"] = {"not": "a response"}  # not read again
    again = build_context("", items)[1]
    assert again is first
    unkeyed = HistoryItem("assistant", "hi", {"response": dump_response(first)})
    assert build_context("", [unkeyed])[0] is not first
