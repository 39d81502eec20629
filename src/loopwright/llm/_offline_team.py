"""The offline model as a team planner, executor and synthesizer (deterministic, no network).

- Planner (``team_decide`` is offered): "compare my projects" lists the projects, then plans
  one read-only step per project (``read_project``); a request one of the workspace tools
  answers is routed ``tool``; anything else ``simple``.
- After its decision: ``tool`` makes that call, ``simple`` answers with the offline help.
- Executor: "read project prj_…" reads it and reports its tasks and documents.
- Synthesis: the steps' results, listed.
"""

from __future__ import annotations

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
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from loopwright.llm._offline_phrases import match_request

DECIDE = "team_decide"  # engine.team_plan.DECIDE_TOOL (llm does not import the engine)
RESULTS_HEADER = "Results of the plan's steps:"
_COMPARE = re.compile(r"\bcompare\b.*\bprojects?\b", re.IGNORECASE | re.DOTALL)
_READ_PROJECT = re.compile(r"\bread project (prj_\w+)", re.IGNORECASE)
_WORKSPACE_TOOLS = frozenset(
    {
        "create_task",
        "list_tasks",
        "create_project",
        "list_projects",
        "search_documents",
        "create_document",
    }
)
_MAX_STEPS = 8


@dataclass(frozen=True, slots=True)
class TeamReply:
    """A tool call to make, or a text (None: the offline help)."""

    call: ToolCallPart | None = None
    text: str | None = None


def team_reply(messages: list[ModelMessage], tools: list[ToolDefinition]) -> TeamReply | None:
    """The offline model's answer when it plays a team role; None otherwise."""
    names = {tool.name for tool in tools}
    prompt = _last_prompt(messages)
    returns = _last_returns(messages)
    latest = _latest_returns(messages)
    if prompt.startswith(RESULTS_HEADER):
        return TeamReply(text="Here is what the team found.\n\n" + prompt[len(RESULTS_HEADER) :])
    if DECIDE in names:
        return _plan(messages, names, prompt, returns)
    decided = next((r for r in latest if r.tool_name == DECIDE), None)
    if decided is not None:
        route = _content(decided).get("route")
        intent = match_request(prompt, names) if route == "tool" else None
        if intent is None:
            return TeamReply()
        return TeamReply(call=_call(messages, intent.tool, intent.args))
    read = next((r for r in latest if r.tool_name == "read_project"), None)
    if read is not None:
        return TeamReply(text=_project_report(_content(read)))
    found = _READ_PROJECT.search(prompt)
    if found and "read_project" in names and not returns:
        return TeamReply(call=_call(messages, "read_project", {"project_id": found.group(1)}))
    return None


def _plan(
    messages: list[ModelMessage], names: set[str], prompt: str, returns: list[ToolReturnPart]
) -> TeamReply:
    refused = next((r for r in returns if r.tool_name == DECIDE), None)
    if refused is not None:  # its own decision was refused: it cannot do better
        return TeamReply(text=f"I could not make a valid plan: {_content(refused).get('error')}")
    if _COMPARE.search(prompt):
        listed = next((r for r in returns if r.tool_name == "list_projects"), None)
        if listed is None and "list_projects" in names:
            return TeamReply(call=_call(messages, "list_projects", {}))
        projects = _content(listed).get("projects") if listed is not None else None
        if isinstance(projects, list) and projects:
            return TeamReply(call=_call(messages, DECIDE, _compare_plan(projects, names)))
        reason = "there are no projects to compare"
        return TeamReply(call=_call(messages, DECIDE, {"route": "simple", "reason": reason}))
    intent = match_request(prompt, set(_WORKSPACE_TOOLS))
    if intent is not None:
        reason = f"one call of {intent.tool} answers it"
        return TeamReply(call=_call(messages, DECIDE, {"route": "tool", "reason": reason}))
    reason = "a plain message I answer directly"
    return TeamReply(call=_call(messages, DECIDE, {"route": "simple", "reason": reason}))


def _compare_plan(projects: list[Any], names: set[str]) -> dict[str, Any]:
    tools = ["read_project"] if "read_project" in names else []
    steps = [
        {
            "id": f"p{number}",
            "title": f"Review project {project.get('name')}",
            "instructions": (
                f"Read project {project.get('id')} ({project.get('name')}) and report its "
                "tasks and documents."
            ),
            "tools": tools,
        }
        for number, project in enumerate(projects[:_MAX_STEPS], 1)
        if isinstance(project, dict)
    ]
    return {
        "route": "complex",
        "reason": f"{len(steps)} projects to review, each on its own, then a comparison",
        "plan": {"goal": "compare the projects", "steps": steps},
    }


def _project_report(content: dict[str, Any]) -> str:
    project = content.get("project") if isinstance(content.get("project"), dict) else {}
    name = project.get("name", "?") if isinstance(project, dict) else "?"
    tasks = [t for t in content.get("tasks") or [] if isinstance(t, dict)]
    documents = [d for d in content.get("documents") or [] if isinstance(d, dict)]
    done = sum(1 for t in tasks if t.get("status") == "done")
    text = f"Project {name}: {len(tasks)} tasks ({done} done), {len(documents)} documents."
    if tasks:
        text += " Tasks: " + ", ".join(str(t.get("title")) for t in tasks[:10]) + "."
    return text


def _call(messages: list[ModelMessage], tool: str, args: dict[str, Any]) -> ToolCallPart:
    made = sum(
        1
        for m in messages
        if isinstance(m, ModelResponse)
        for p in m.parts
        if isinstance(p, ToolCallPart)
    )
    return ToolCallPart(tool, args, tool_call_id=f"offline-call-{made + 1}")


def _last_prompt(messages: Sequence[ModelMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in reversed(message.parts):
                if isinstance(part, UserPromptPart):
                    content = part.content
                    if isinstance(content, str):
                        return content
                    return " ".join(item for item in content if isinstance(item, str))
    return ""


def _last_returns(messages: Sequence[ModelMessage]) -> list[ToolReturnPart]:
    """The tool results since the latest user prompt."""
    found: list[ToolReturnPart] = []
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in reversed(message.parts):
                if isinstance(part, UserPromptPart):
                    return found
                if isinstance(part, ToolReturnPart):
                    found.append(part)
    return found


def _latest_returns(messages: Sequence[ModelMessage]) -> list[ToolReturnPart]:
    """The tool results the model reads now (its last request's)."""
    request = next((m for m in reversed(messages) if isinstance(m, ModelRequest)), None)
    parts = request.parts if request is not None else []
    return [part for part in parts if isinstance(part, ToolReturnPart)]


def _content(part: ToolReturnPart) -> dict[str, Any]:
    content = part.content
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except json.JSONDecodeError:
            return {}
    return content if isinstance(content, dict) else {}
