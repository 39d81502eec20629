"""Plain-English requests the offline model turns into tool calls.

Each rule is a regular expression over the user's words and a function from its match to the
tool's arguments; the first rule that matches and whose tool is available wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_FLAGS = re.IGNORECASE | re.DOTALL
_QUOTES = "\"'`\u2018\u2019\u201c\u201d"
_TRAILING = ".!?,;:"
_POLITE_TAIL = re.compile(r"[\s,]*\b(?:please|thanks|thank\s+you)\b[\s.!?]*$", _FLAGS)
_QUOTED_HEAD = re.compile(
    r"\s*[\"'`\u2018\u201c](.+?)[\"'`\u2019\u201d](?=[\s.,!?;:]|$)(.*)$", _FLAGS
)
_PROJECT_TAIL = re.compile(
    r"\s*\b(?:in|to|under|for|on|into)\s+(?:the\s+|my\s+)?(?:project\s+(?P<p1>.+)|(?P<p2>.+?)\s+project)\s*[.!?]*$",
    _FLAGS,
)
_CONTENT_TAIL = re.compile(
    r"\s*,?\s*\b(?:with\s+(?:the\s+)?(?:content|text|body)|saying|that\s+says|which\s+says|containing)"
    r"\s*:?\s*(?P<content>.*)$",
    _FLAGS,
)


@dataclass(frozen=True, slots=True)
class Intent:
    tool: str
    args: dict[str, Any]


def clean(phrase: str, *, punctuation: bool = True) -> str:
    """Strip whitespace, surrounding quotes and (unless told not to) trailing punctuation."""
    previous = None
    while phrase != previous:
        previous = phrase
        phrase = phrase.strip()
        if punctuation:
            phrase = phrase.rstrip(_TRAILING).strip()
        phrase = phrase.strip(_QUOTES)
    return phrase


def _split_head(rest: str, tail: re.Pattern[str]) -> tuple[str, re.Match[str] | None]:
    """Split ``rest`` into a leading name (quoted, or up to ``tail``) and the tail's match."""
    quoted = _QUOTED_HEAD.match(rest)
    if quoted:
        return quoted.group(1), tail.match(quoted.group(2))
    found = tail.search(rest)
    if found is None:
        return rest, None
    return rest[: found.start()], found


def _task(match: re.Match[str]) -> dict[str, Any] | None:
    title, tail = _split_head(match.group("rest"), _PROJECT_TAIL)
    args: dict[str, Any] = {"title": clean(title)}
    if tail is not None and (project := clean(tail.group("p1") or tail.group("p2"))):
        args["project"] = project
    return args if args["title"] else None


def _document(match: re.Match[str]) -> dict[str, Any] | None:
    title, tail = _split_head(match.group("rest"), _CONTENT_TAIL)
    content = clean(tail.group("content"), punctuation=False) if tail is not None else ""
    title = clean(title)
    return {"title": title, "content": content} if title else None


def _named(key: str) -> Callable[[re.Match[str]], dict[str, Any] | None]:
    def args(match: re.Match[str]) -> dict[str, Any] | None:
        value = clean(match.group("rest"))
        return {key: value} if value else None

    return args


def _no_args(match: re.Match[str]) -> dict[str, Any]:
    return {}


_NAMED = r"\s*(?:called|named|titled|:)?\s*(?P<rest>.+)$"
_TASKS = r"(?:tasks|todos|to-dos)"
_DOCS = r"(?:documents|docs|notes)"

_RULES: list[tuple[str, re.Pattern[str], Callable[[re.Match[str]], dict[str, Any] | None]]] = [
    (
        "create_task",
        re.compile(
            r"\b(?:create|add|make|new)\s+(?:a\s+|an\s+|the\s+)?(?:new\s+)?(?:task|todo|to-do)\b"
            r"\s*(?:called|named|titled|:|to\b)?\s*(?P<rest>.+)$",
            _FLAGS,
        ),
        _task,
    ),
    (
        "create_project",
        re.compile(
            r"\b(?:create|add|make|start|new)\s+(?:a\s+|an\s+|the\s+)?(?:new\s+)?project\b"
            + _NAMED,
            _FLAGS,
        ),
        _named("name"),
    ),
    (
        "create_document",
        re.compile(
            r"\b(?:create|write|add|make|new)\s+(?:a\s+|an\s+|the\s+)?(?:new\s+)?(?:document|doc|note)\b"
            + _NAMED,
            _FLAGS,
        ),
        _document,
    ),
    (
        "search_documents",
        re.compile(
            r"\b(?:search|look)\s+(?:through\s+|in\s+)?(?:the\s+|my\s+|our\s+)?"
            + _DOCS
            + r"\s+(?:for|about|on|mentioning)\s+(?P<rest>.+)$",
            _FLAGS,
        ),
        _named("query"),
    ),
    (
        "search_documents",
        re.compile(
            r"\bfind\s+(?:me\s+)?(?:any\s+|all\s+|the\s+|my\s+|some\s+)?"
            + _DOCS
            + r"\s+(?:about|on|for|mentioning|regarding|related\s+to|that\s+mention)"
            + r"\s+(?P<rest>.+)$",
            _FLAGS,
        ),
        _named("query"),
    ),
    (
        "search_documents",
        re.compile(
            r"\bsearch\s+(?:for\s+)?(?P<rest>.+?)\s+in\s+(?:the\s+|my\s+|our\s+)?"
            + _DOCS
            + r"\s*[.!?]*$",
            _FLAGS,
        ),
        _named("query"),
    ),
    (
        "list_tasks",
        re.compile(
            r"\b(?:list|show|display|view|see|get|give)\s+(?:me\s+)?(?:all\s+)?(?:of\s+)?"
            r"(?:my\s+|the\s+|our\s+|all\s+)?(?:open\s+|current\s+|pending\s+)?" + _TASKS + r"\b"
            r"|\bwhat\s+" + _TASKS + r"\s+(?:do\s+i\s+have|are\s+there|have\s+i\s+got)"
            r"|\bwhat\s+(?:are|is)\s+(?:my|the)\s+" + _TASKS + r"\b"
            r"|^\s*(?:my\s+)?" + _TASKS + r"\s*\??\s*$",
            _FLAGS,
        ),
        _no_args,
    ),
    (
        "list_projects",
        re.compile(
            r"\b(?:list|show|display|view|see|get|give)\s+(?:me\s+)?(?:all\s+)?(?:of\s+)?"
            r"(?:my\s+|the\s+|our\s+|all\s+)?projects\b"
            r"|\bwhat\s+projects\s+(?:do\s+i\s+have|are\s+there|have\s+i\s+got|exist)"
            r"|\bwhat\s+(?:are|is)\s+(?:my|the)\s+projects\b"
            r"|^\s*(?:my\s+)?projects\s*\??\s*$",
            _FLAGS,
        ),
        _no_args,
    ),
]


def match_request(text: str, available: set[str]) -> Intent | None:
    """The first tool call ``text`` asks for among the ``available`` tools, if any."""
    text = _POLITE_TAIL.sub("", text.strip())
    for tool, pattern, to_args in _RULES:
        if tool not in available:
            continue
        match = pattern.search(text)
        if match is None:
            continue
        args = to_args(match)
        if args is not None:
            return Intent(tool, args)
    return None
