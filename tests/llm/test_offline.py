"""The offline model: plain requests to tool calls, tool results to summaries, and help."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic_ai import ToolDefinition
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from loopwright.llm import OfflineClient
from loopwright.llm._offline_phrases import OPENING_CHARS, match_request
from loopwright.llm.offline import MAX_DELTAS
from tests.llm.helpers import Deltas, ask


def tool(name: str, *properties: str) -> ToolDefinition:
    return ToolDefinition(
        name=name,
        description=f"The {name} tool.",
        parameters_json_schema={
            "type": "object",
            "properties": {prop: {"type": "string"} for prop in properties},
        },
    )


TOOLS = [
    tool("create_task", "title", "project"),
    tool("list_tasks"),
    tool("create_project", "name"),
    tool("list_projects"),
    tool("search_documents", "query"),
    tool("create_document", "title", "content"),
]


async def complete(
    messages: list[ModelMessage], tools: list[ToolDefinition] = TOOLS
) -> tuple[ModelResponse, Deltas]:
    deltas = Deltas()
    response = await OfflineClient().complete(messages, tools, {}, deltas)
    return response, deltas


def only_text(response: ModelResponse) -> str:
    [part] = response.parts
    assert isinstance(part, TextPart)
    return part.content


@pytest.mark.parametrize(
    ("prompt", "tool_name", "args"),
    [
        (
            "create a task called Buy milk in project Home",
            "create_task",
            {"title": "Buy milk", "project": "Home"},
        ),
        (
            "Create a task called 'Buy milk' in project \"Home\".",
            "create_task",
            {"title": "Buy milk", "project": "Home"},
        ),
        ("add a task Buy milk", "create_task", {"title": "Buy milk"}),
        ("Please ADD A TASK: Call mom, thanks!", "create_task", {"title": "Call mom"}),
        (
            "create a task called 'Mom's birthday' in the Family project",
            "create_task",
            {"title": "Mom's birthday", "project": "Family"},
        ),
        (
            "create task Put dishes in sink in project Home",
            "create_task",
            {"title": "Put dishes in sink", "project": "Home"},
        ),
        ("list my tasks", "list_tasks", {}),
        ("What tasks do I have?", "list_tasks", {}),
        ("show tasks", "list_tasks", {}),
        ("create a project called Home", "create_project", {"name": "Home"}),
        ('Create a new project named "Garden".', "create_project", {"name": "Garden"}),
        ("list my projects", "list_projects", {}),
        ("what projects do I have?", "list_projects", {}),
        ("search documents for invoices", "search_documents", {"query": "invoices"}),
        ("Find documents about 'tax returns'?", "search_documents", {"query": "tax returns"}),
        (
            "create a document called Notes with content Call the bank.",
            "create_document",
            {"title": "Notes", "content": "Call the bank."},
        ),
        (
            'Create a document titled "Plan" saying "We ship Friday"',
            "create_document",
            {"title": "Plan", "content": "We ship Friday"},
        ),
        ("create a document called Ideas", "create_document", {"title": "Ideas", "content": ""}),
    ],
)
async def test_plain_requests_become_tool_calls(
    prompt: str, tool_name: str, args: dict[str, Any]
) -> None:
    response, deltas = await complete(ask(prompt))

    [call] = response.parts
    assert isinstance(call, ToolCallPart)
    assert (call.tool_name, call.args_as_dict(), call.tool_call_id) == (
        tool_name,
        args,
        "offline-call-1",
    )
    assert (response.model_name, response.provider_name) == ("default", "offline")
    assert response.finish_reason == "tool_call"
    assert deltas.received == []


async def test_a_request_for_a_missing_tool_gets_the_help_reply() -> None:
    response, _ = await complete(ask("list my tasks"), [tool("create_task", "title")])

    text = only_text(response)
    assert text.startswith("[offline] I'm the offline model")
    assert "create_task" in text
    assert "list_tasks" not in text


async def test_arguments_the_tool_does_not_declare_are_dropped() -> None:
    response, _ = await complete(
        ask("create a task called Buy milk in project Home"), [tool("create_task", "title")]
    )

    [call] = response.parts
    assert isinstance(call, ToolCallPart)
    assert call.args_as_dict() == {"title": "Buy milk"}


async def test_call_ids_count_the_calls_already_in_the_conversation() -> None:
    history: list[ModelMessage] = [
        *ask("list my tasks"),
        ModelResponse(parts=[ToolCallPart("list_tasks", {}, tool_call_id="offline-call-1")]),
        ModelRequest(parts=[ToolReturnPart("list_tasks", [], tool_call_id="offline-call-1")]),
        ModelResponse(parts=[TextPart("[offline] You have no tasks.")]),
        *ask("create a project called Home"),
    ]

    response, _ = await complete(history)

    [call] = response.parts
    assert isinstance(call, ToolCallPart)
    assert call.tool_call_id == "offline-call-2"


def after_call(name: str, args: dict[str, Any], content: object, **kw: Any) -> list[ModelMessage]:
    return [
        *ask("do it"),
        ModelResponse(parts=[ToolCallPart(name, args, tool_call_id="offline-call-1")]),
        ModelRequest(parts=[ToolReturnPart(name, content, tool_call_id="offline-call-1", **kw)]),
    ]


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        (
            after_call(
                "create_task",
                {"title": "Buy milk", "project": "Home"},
                {"id": "t-1", "title": "Buy milk", "project": {"id": "p-1", "name": "Home"}},
            ),
            "[offline] Created task 'Buy milk' in project 'Home'.",
        ),
        (
            after_call("create_project", {"name": "Home"}, "ok"),
            "[offline] Created project 'Home'.",
        ),
        (
            after_call(
                "list_tasks",
                {},
                [{"title": "Buy milk", "status": "open"}, {"title": "Walk dog", "done": True}],
            ),
            "[offline] You have 2 tasks: 'Buy milk' (open), 'Walk dog' (done).",
        ),
        (after_call("list_projects", {}, {"projects": []}), "[offline] You have no projects."),
        (
            after_call(
                "search_documents", {"query": "budget"}, '{"results": [{"title": "Q3 budget"}]}'
            ),
            "[offline] Found 1 document: 'Q3 budget'.",
        ),
        (
            after_call("search_documents", {"query": "budget"}, []),
            "[offline] Found no documents matching 'budget'.",
        ),
        (
            after_call("create_task", {"title": "X"}, "Project 'Work' not found", outcome="failed"),
            "[offline] The tool create_task failed: \"Project 'Work' not found\".",
        ),
        (
            after_call("create_task", {"title": "X"}, {"error": {"message": "quota reached"}}),
            '[offline] The tool create_task failed: "quota reached".',
        ),
        (
            after_call("get_time", {}, {"tz": "UTC", "time": "12:00"}),
            "[offline] get_time returned {tz: UTC, time: 12:00}.",
        ),
        (after_call("get_time", {}, "12:00"), '[offline] get_time returned "12:00".'),
    ],
)
async def test_tool_results_are_summarized(messages: list[ModelMessage], expected: str) -> None:
    response, deltas = await complete(messages)

    assert only_text(response) == expected
    assert deltas.text() == expected
    assert response.finish_reason == "stop"


async def test_several_results_are_summarized_together() -> None:
    messages: list[ModelMessage] = [
        *ask("do both"),
        ModelResponse(
            parts=[
                ToolCallPart("create_project", {"name": "Home"}, tool_call_id="a"),
                ToolCallPart("list_tasks", {}, tool_call_id="b"),
            ]
        ),
        ModelRequest(
            parts=[
                ToolReturnPart("create_project", {"name": "Home"}, tool_call_id="a"),
                ToolReturnPart("list_tasks", [{"title": "Buy milk"}], tool_call_id="b"),
            ]
        ),
    ]

    response, _ = await complete(messages)

    assert only_text(response) == ("[offline] Created project 'Home'. You have 1 task: 'Buy milk'.")


async def test_anything_else_gets_a_friendly_help_reply_in_chunks() -> None:
    prompt = "hello there, who are you?"
    response, deltas = await complete(ask(prompt), [*TOOLS, tool("get_weather", "city")])

    text = only_text(response)
    assert text.startswith("[offline] I'm the offline model")
    for name in (*(t.name for t in TOOLS), "get_weather"):
        assert name in text
    assert len(deltas.received) > 3
    assert all(d.kind == "text" for d in deltas.received)
    assert deltas.text() == text
    assert response.usage.input_tokens == len(prompt.split())
    assert response.usage.output_tokens == len(text.split())


async def test_input_usage_counts_the_whole_conversation() -> None:
    messages: list[ModelMessage] = [
        ModelRequest(
            parts=[SystemPromptPart("Be brief."), UserPromptPart("list my tasks")],
            instructions="Answer well",
        )
    ]

    response, _ = await complete(messages)

    assert response.usage.input_tokens == 2 + 3 + 2
    [call] = response.parts
    assert isinstance(call, ToolCallPart)
    assert response.usage.output_tokens == 2  # "list_tasks {}"


async def test_is_deterministic() -> None:
    first, first_deltas = await complete(ask("what can you do?"))
    second, second_deltas = await complete(ask("what can you do?"))

    assert first.parts == second.parts
    assert first_deltas.received == second_deltas.received


LONGEST = 100_000  # the longest message content the API accepts
MATCH_BOUND_S = 1.0  # linear matching takes milliseconds; the old patterns took minutes or more


def longest(opening: str, filler: str, ending: str = "") -> str:
    """``opening``, then ``filler`` repeated, then ``ending``: the longest accepted message."""
    body = (opening + filler * LONGEST)[: LONGEST - len(ending)]
    return body + ending


@pytest.mark.parametrize(
    ("text", "tool_name"),
    [
        # Each "in" after a title started a lazy scan to the end of the text: quadratic.
        (longest("create a task called Pack ", "in "), "create_task"),
        (longest("create a task called Pack ", "in a project ", "x"), "create_task"),
        # A whitespace run before a splitting or trailing phrase: cubic and quadratic.
        (longest("create a document called Notes", " ", "x"), "create_document"),
        (longest("create a task 'Pack' in", " ", "x"), "create_task"),
        (longest("x", " ", "y"), None),
        # Many "search"es, each scanning to the end for "... in documents".
        (longest("", "search "), None),
    ],
    ids=lambda value: value[:24] if isinstance(value, str) else str(value),
)
def test_matching_the_longest_message_takes_linear_time(text: str, tool_name: str | None) -> None:
    assert len(text) == LONGEST
    started = time.perf_counter()
    intent = match_request(text, {tool.name for tool in TOOLS})
    elapsed = time.perf_counter() - started

    assert elapsed < MATCH_BOUND_S, f"{elapsed:.1f} s"
    assert (intent.tool if intent else None) == tool_name


def test_a_long_document_body_is_kept_whole() -> None:
    body = longest("", "The board met and agreed. ")[: LONGEST - 60].strip()

    intent = match_request(
        f"create a document called Minutes with content {body}", {"create_document"}
    )

    assert intent is not None
    assert intent.args == {"title": "Minutes", "content": body}


def test_a_request_must_open_within_the_first_characters() -> None:
    padding = "x " * (OPENING_CHARS // 2)

    assert match_request(padding[:-40] + "create a task called Pack", {"create_task"}) is not None
    assert match_request(padding + "create a task called Pack", {"create_task"}) is None


async def test_a_long_reply_streams_in_a_bounded_number_of_deltas() -> None:
    title = " ".join(f"word{i}" for i in range(20_000))
    messages = after_call("create_task", {"title": title}, {"title": title})

    response, deltas = await complete(messages)

    text = only_text(response)
    assert text == f"[offline] Created task '{title}'."
    assert 1 < len(deltas.received) <= MAX_DELTAS
    assert deltas.text() == text
