"""Readable one-line summaries of tool results, for the offline model's answers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic_ai.messages import ToolReturnPart

_LABEL_KEYS = ("title", "name", "query", "id")
_LIST_KEYS = ("items", "results", "data", "tasks", "projects", "documents")
_MAX_LISTED = 10
_MAX_TEXT = 120


def summarize(part: ToolReturnPart[Any], call_args: Mapping[str, Any]) -> str:
    """One sentence about one tool result; ``call_args`` are the arguments it was called with."""
    content = _decode(part.content)
    tool = part.tool_name
    if part.outcome in ("failed", "retried") or _error_of(content) is not None:
        return f"The tool {tool} failed{_quoted(_error_of(content) or content)}."
    if part.outcome == "denied":
        return f"The tool {tool} was not allowed to run{_quoted(content)}."
    if part.outcome == "interrupted":
        return f"The tool {tool} was interrupted before it finished."
    if tool in ("remember", "recall") and isinstance(content, Mapping):
        return _memory(tool, content)
    verb, _, noun = tool.partition("_")
    summary: str | None = None
    if noun and verb in ("create", "add"):
        summary = _created(noun, content, call_args)
    elif noun and verb == "list":
        summary = _counted("You have {n} {noun}", "You have no {noun}", noun, content)
    elif noun and verb in ("search", "find"):
        query = call_args.get("query")
        none = "Found no {noun}" + (f" matching '{query}'" if query else "")
        summary = _counted("Found {n} {noun}", none, noun, content)
    return summary or f"{tool} returned {_render(content)}."


def _created(noun: str, content: object, args: Mapping[str, Any]) -> str:
    noun = _singular(noun.replace("_", " "))
    result = content if isinstance(content, Mapping) else {}
    label = _label(result) or _label(args)
    project = args.get("project") or result.get("project") or result.get("project_name")
    sentence = f"Created {noun} '{label}'" if label else f"Created {noun}"
    if project:
        sentence += f" in project '{_label(project) if isinstance(project, Mapping) else project}'"
    return sentence + "."


def _counted(some: str, none: str, noun: str, content: object) -> str | None:
    items = _items(content)
    if items is None:
        return None
    count = len(items)
    if count == 0:
        return none.format(noun=noun.replace("_", " ")) + "."
    word = noun.replace("_", " ") if count != 1 else _singular(noun.replace("_", " "))
    listed = ", ".join(_item(item) for item in items[:_MAX_LISTED])
    more = f", and {count - _MAX_LISTED} more" if count > _MAX_LISTED else ""
    return f"{some.format(n=count, noun=word)}: {listed}{more}."


def _decode(content: object) -> object:
    """Tool results that arrive as JSON text are read as the structure they encode."""
    if isinstance(content, str) and content.strip()[:1] in ("{", "["):
        try:
            decoded: object = json.loads(content)
        except ValueError:
            return content
        return decoded
    return content


def _error_of(content: object) -> str | None:
    if isinstance(content, Mapping) and "error" in content:
        error = content["error"]
        if isinstance(error, Mapping):
            return _text(error.get("message", error))
        return _text(error)
    return None


def _items(content: object) -> list[object] | None:
    if isinstance(content, list):
        return content
    if isinstance(content, Mapping):
        for key in _LIST_KEYS:
            if isinstance(content.get(key), list):
                found: list[object] = content[key]
                return found
        lists = [value for value in content.values() if isinstance(value, list)]
        if len(lists) == 1:
            return lists[0]
    return None


def _item(item: object) -> str:
    if isinstance(item, Mapping):
        label = _label(item)
        if label is None:
            return _render(item)
        status = item.get("status")
        if status is None and isinstance(item.get("done"), bool):
            status = "done" if item["done"] else "open"
        return f"'{label}'" + (f" ({status})" if status is not None else "")
    return f"'{_text(item)}'"


def _label(value: Mapping[str, Any]) -> str | None:
    for key in _LABEL_KEYS:
        found = value.get(key)
        if isinstance(found, str | int) and str(found):
            return str(found)
    return None


def _render(content: object) -> str:
    if isinstance(content, Mapping):
        fields = ", ".join(f"{key}: {_text(value)}" for key, value in list(content.items())[:8])
        return f"{{{fields}}}" if fields else "nothing"
    if isinstance(content, list):
        return f"{len(content)} item{'s' if len(content) != 1 else ''}" + (
            ": " + ", ".join(_item(item) for item in content[:_MAX_LISTED]) if content else ""
        )
    if content is None or content == "":
        return "nothing"
    return f'"{_text(content)}"'


def _quoted(reason: object) -> str:
    return f': "{_text(reason)}"' if reason not in (None, "") else ""


def _text(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "\u2026"


def _singular(noun: str) -> str:
    return noun[:-1] if noun.endswith("s") and not noun.endswith("ss") else noun


def _memory(tool: str, content: Mapping[str, Any]) -> str:
    if tool == "remember":
        memory = content.get("memory") or {}
        said = "I will remember" if content.get("saved") else "I already remember"
        return f"{said}: {memory.get('content', '')}."
    found = [m.get("content", "") for m in content.get("memories") or []]
    return "I remember: " + "; ".join(found) + "." if found else "I remember nothing about that."
