"""A deterministic model that needs no network: it maps plain requests to tool calls.

It lets a fresh install run end to end with no provider configured. Every text it writes starts
with ``[offline] ``, so nobody mistakes it for a real model.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RequestUsage

from loopwright.llm._offline_phrases import match_request
from loopwright.llm._offline_reflect import reflect_reply
from loopwright.llm._offline_summary import summarize
from loopwright.llm._offline_team import team_reply
from loopwright.llm.client import DeltaSink, ModelDelta

PREFIX = "[offline] "
_WORDS_PER_CHUNK = 3
MAX_DELTAS = 64
"""A reply streams in at most this many text deltas: chunks grow with its length, so echoing a
long title costs a few events, not thousands."""
_EXAMPLES = {
    "create_task": ("create a task", "create a task called Buy milk in project Home"),
    "list_tasks": ("list your tasks", "list my tasks"),
    "create_project": ("create a project", "create a project called Home"),
    "list_projects": ("list your projects", "what projects do I have?"),
    "search_documents": ("search your documents", "search documents for invoices"),
    "create_document": (
        "create a document",
        "create a document called Notes with content Call the bank",
    ),
}


class OfflineClient:
    @property
    def provider(self) -> str:
        return "offline"

    @property
    def model(self) -> str:
        return "default"

    async def complete(
        self,
        messages: list[ModelMessage],
        tools: list[ToolDefinition],
        settings: ModelSettings,
        on_delta: DeltaSink,
    ) -> ModelResponse:
        # Reading the request and counting the whole conversation's words take time in
        # proportion to the conversation (~15 ms per MB; 100 KB messages add up), so they run in
        # a worker thread: the event loop then waits at most a GIL switch interval at a time.
        answer = await asyncio.to_thread(_answer, messages, tools)
        for chunk in answer.chunks:
            await on_delta(ModelDelta("text", chunk))
        return ModelResponse(
            parts=[answer.part],
            usage=RequestUsage(input_tokens=answer.input_words, output_tokens=answer.output_words),
            model_name=self.model,
            provider_name=self.provider,
            finish_reason="tool_call" if isinstance(answer.part, ToolCallPart) else "stop",
        )


@dataclass(frozen=True, slots=True)
class _Answer:
    part: TextPart | ToolCallPart
    chunks: list[str]
    """The text deltas to stream (none for a tool call)."""
    input_words: int
    output_words: int


def _answer(messages: list[ModelMessage], tools: list[ToolDefinition]) -> _Answer:
    """What the offline model says to ``messages``: a tool call, a summary of tool results, or
    its help text (or, in a team, what ``_offline_team`` says)."""
    team = team_reply(messages, tools)
    if team is not None:
        if team.call is not None:
            return _Answer(team.call, [], _prompt_words(messages), _call_words(team.call))
        text = PREFIX + (team.text or _help(tools))
        return _Answer(TextPart(text), _chunks(text), _prompt_words(messages), _count_words(text))
    request = next((m for m in reversed(messages) if isinstance(m, ModelRequest)), None)
    parts = list(request.parts) if request is not None else []
    reflected = reflect_reply(_prompt_text(parts))
    if reflected is not None:
        return _Answer(TextPart(reflected), [], _prompt_words(messages), _count_words(reflected))
    returns = [part for part in parts if isinstance(part, ToolReturnPart)]
    if returns:
        calls = _call_args(messages)
        text = PREFIX + " ".join(summarize(r, calls.get(r.tool_call_id, {})) for r in returns)
    else:
        prompt = _prompt_text(parts)
        by_name = {tool.name: tool for tool in tools}
        intent = match_request(prompt, set(by_name)) if prompt else None
        if intent is not None:
            call = ToolCallPart(
                intent.tool,
                _fit(by_name[intent.tool], intent.args),
                tool_call_id=f"offline-call-{len(_call_args(messages)) + 1}",
            )
            return _Answer(call, [], _prompt_words(messages), _call_words(call))
        text = PREFIX + _help(tools)
    return _Answer(TextPart(text), _chunks(text), _prompt_words(messages), _count_words(text))


def _prompt_text(parts: Sequence[object]) -> str:
    prompts = [part for part in parts if isinstance(part, UserPromptPart)]
    if not prompts:
        return ""
    content = prompts[-1].content
    if isinstance(content, str):
        return content
    return " ".join(item for item in content if isinstance(item, str))


def _call_args(messages: list[ModelMessage]) -> dict[str, dict[str, Any]]:
    """Every tool call made so far, by id, with its arguments."""
    return {
        part.tool_call_id: part.args_as_dict()
        for message in messages
        if isinstance(message, ModelResponse)
        for part in message.parts
        if isinstance(part, ToolCallPart)
    }


def _fit(tool: ToolDefinition, args: dict[str, Any]) -> dict[str, Any]:
    """Drop arguments the tool does not declare (e.g. a project for a tool without projects)."""
    properties = tool.parameters_json_schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        return args
    return {key: value for key, value in args.items() if key in properties}


def _help(tools: list[ToolDefinition]) -> str:
    names = [tool.name for tool in tools]
    known = [
        f'{what} with {name} (say "{example}")'
        for name, (what, example) in _EXAMPLES.items()
        if name in names
    ]
    others = [name for name in names if name not in _EXAMPLES]
    text = (
        "I'm the offline model: I run without any AI provider and only understand a few plain "
        "requests."
    )
    if known:
        text += " I can " + "; ".join(known) + "."
    else:
        text += " None of the tools I understand are available here."
    if others:
        text += " Other tools available: " + ", ".join(others) + "."
    return text + " Configure a model provider for anything else."


def _chunks(text: str) -> list[str]:
    words = re.findall(r"\S+\s*", text)
    size = max(_WORDS_PER_CHUNK, -(-len(words) // MAX_DELTAS))
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]


def _prompt_words(messages: list[ModelMessage]) -> int:
    total = 0
    for message in messages:
        if isinstance(message, ModelRequest):
            total += _count_words(message.instructions or "")
            for part in message.parts:
                if isinstance(part, SystemPromptPart):
                    total += _count_words(part.content)
                elif isinstance(part, UserPromptPart):
                    total += _count_words(_prompt_text([part]))
                elif isinstance(part, ToolReturnPart):
                    total += _count_words(part.model_response_str())
        else:
            for response_part in message.parts:
                if isinstance(response_part, TextPart):
                    total += _count_words(response_part.content)
                elif isinstance(response_part, ToolCallPart):
                    total += _call_words(response_part)
    return total


def _call_words(call: ToolCallPart) -> int:
    return _count_words(call.tool_name + " " + json.dumps(call.args_as_dict()))


def _count_words(text: str) -> int:
    return len(text.split())
