"""Plain-English requests the offline model turns into tool calls.

Each rule is a regular expression that finds a request's opening words and a function from its
match to the tool's arguments; the first rule that matches and whose tool is available wins.

Matching runs on the event loop, so its time must stay linear in the message's length (a message
may be 100,000 characters). No pattern may retry a scan to the end of the text from many places:
opening words are looked for in the first ``OPENING_CHARS`` characters only; the phrase that ends
a request ("... in project Home", "... please", "... in my documents") is matched on the reversed
text from its end; a phrase that splits a request ("... with content ...", "... in project X") is
found by one left-to-right search that reads no further than its own words. The arguments are
read from the whole message, so a long document body is kept whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

OPENING_CHARS = 1_000
"""A request's opening words ("create a task called") must lie within this many characters."""
_FLAGS = re.IGNORECASE | re.DOTALL
_QUOTES = "\"'`\u2018\u2019\u201c\u201d"
_TRAILING = ".!?,;:"
# Patterns over reversed text (so ``.match`` reads a phrase back from the end of the message).
_POLITE_TAIL_REVERSED = re.compile(
    r"[\s.!?]*\b(?:esaelp|sknaht|uoy\s+knaht)\b[\s,]*", _FLAGS
)  # "..., please." / "thanks!" / "thank you"
_PROJECT_SUFFIX_REVERSED = re.compile(r"[.!?]*\s*tcejorp(?P<gap>\s+)", _FLAGS)  # "... project."
_DOCS_SUFFIX_REVERSED = re.compile(
    r"[.!?]*\s*(?:stnemucod|scod|seton)(?:\s+(?:eht|ym|ruo))?\s+ni(?P<gap>\s+)", _FLAGS
)  # "... in the documents."
_LEADING = re.compile(r"[\s" + re.escape(_QUOTES) + r"]*")
_TRAILING_ALL = re.compile(r"[\s" + re.escape(_QUOTES + _TRAILING) + r"]*")
_TRAILING_QUOTES = _LEADING
_QUOTED_HEAD = re.compile(r"\s*[\"'`\u2018\u201c](.+?)[\"'`\u2019\u201d](?=[\s.,!?;:]|$)", _FLAGS)
_PREPOSITION = re.compile(r"\b(?:into|in|to|under|for|on)(?P<gap>\s+)", _FLAGS)
_ARTICLE = re.compile(r"(?:the|my)\s+", _FLAGS)
_NAMED_PROJECT = re.compile(r"project\s+(?=.)", _FLAGS)
_PREPOSITION_NAMED_PROJECT = re.compile(
    r"\b(?:into|in|to|under|for|on)\s+(?:(?:the|my)\s+)?project\s+(?=.)", _FLAGS
)
_CONTENT_WORDS = re.compile(
    r"\b(?:with\s+(?:the\s+)?(?:content|text|body)|saying|that\s+says|which\s+says|containing)"
    r"\s*:?\s*",
    _FLAGS,
)
_SPACES = re.compile(r"\s*")
_SPACE_COMMA_SPACE = re.compile(r"\s*,?\s*")


@dataclass(frozen=True, slots=True)
class Intent:
    tool: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Tail:
    """Where a trailing phrase starts in the text, and the value it carries."""

    start: int
    value: str


def clean(phrase: str, *, punctuation: bool = True) -> str:
    """Strip whitespace, surrounding quotes and (unless told not to) trailing punctuation."""
    start = _run_end(_LEADING, phrase)
    end = len(phrase) - _run_end(_TRAILING_ALL if punctuation else _TRAILING_QUOTES, phrase[::-1])
    return phrase[start:end] if start < end else ""


def _run_end(pattern: re.Pattern[str], text: str, pos: int = 0) -> int:
    """Where a run of ``pattern`` (which matches the empty string) starting at ``pos`` ends."""
    found = pattern.match(text, pos)
    return found.end() if found else pos


def _suffix_gap(text: str, reversed_suffix: re.Pattern[str]) -> tuple[int, int] | None:
    """Where the whitespace before a suffix phrase starts and ends, if ``text`` ends with it."""
    found = reversed_suffix.match(text[::-1])
    if found is None:
        return None
    return len(text) - found.end("gap"), len(text) - found.start("gap")


def _project_tail(rest: str, anchored: bool) -> _Tail | None:
    """The first "in project X" / "in the X project" that ends ``rest`` (at its start if
    ``anchored``).

    Only the first preposition can end in "... X project" (a later one leaves X shorter), so
    after it only "in project X" is looked for, by one search.
    """
    if anchored:
        first = _PREPOSITION.match(rest, _run_end(_SPACES, rest))
    else:
        first = _PREPOSITION.search(rest)
    if first is None:
        return None
    suffix = _suffix_gap(rest, _PROJECT_SUFFIX_REVERSED)
    starts = [first.end()]
    if article := _ARTICLE.match(rest, first.end()):
        starts.insert(0, article.end())
    for start in starts:
        if named := _NAMED_PROJECT.match(rest, start):
            return _Tail(first.start(), rest[named.end() :])
        if suffix is not None and (end := max(start + 1, suffix[0])) < suffix[1]:
            return _Tail(first.start(), rest[start:end])
    if anchored:
        return None
    later = _PREPOSITION_NAMED_PROJECT.search(rest, first.end())
    return _Tail(later.start(), rest[later.end() :]) if later else None


def _content_tail(rest: str, anchored: bool) -> _Tail | None:
    """The first "with content X" / "saying X" in ``rest`` (at its start if ``anchored``)."""
    if anchored:
        found = _CONTENT_WORDS.match(rest, _run_end(_SPACE_COMMA_SPACE, rest))
    else:
        found = _CONTENT_WORDS.search(rest)
    return _Tail(found.start(), rest[found.end() :]) if found else None


def _split_head(rest: str, tail: Callable[[str, bool], _Tail | None]) -> tuple[str, _Tail | None]:
    """Split ``rest`` into a leading name (quoted, or up to ``tail``) and the tail."""
    quoted = _QUOTED_HEAD.match(rest)
    if quoted:
        return quoted.group(1), tail(rest[quoted.end() :], True)
    found = tail(rest, False)
    if found is None:
        return rest, None
    return rest[: found.start], found


def _task(match: re.Match[str]) -> dict[str, Any] | None:
    title, tail = _split_head(_rest(match), _project_tail)
    args: dict[str, Any] = {"title": clean(title)}
    if tail is not None and (project := clean(tail.value)):
        args["project"] = project
    return args if args["title"] else None


def _document(match: re.Match[str]) -> dict[str, Any] | None:
    title, tail = _split_head(_rest(match), _content_tail)
    content = clean(tail.value, punctuation=False) if tail is not None else ""
    title = clean(title)
    return {"title": title, "content": content} if title else None


def _named(key: str) -> Callable[[re.Match[str]], dict[str, Any] | None]:
    def args(match: re.Match[str]) -> dict[str, Any] | None:
        value = clean(_rest(match))
        return {key: value} if value else None

    return args


def _search_in_documents(match: re.Match[str]) -> dict[str, Any] | None:
    """``search [for] X in [the] documents``: X runs up to the whitespace before "in"."""
    text = match.string
    gap = _suffix_gap(text, _DOCS_SUFFIX_REVERSED)
    if gap is None:
        return None
    for start in (match.end(), match.end("space")):
        if (end := max(start + 1, gap[0])) < gap[1]:
            query = clean(text[start:end])
            return {"query": query} if query else None
    return None


def _no_args(match: re.Match[str]) -> dict[str, Any]:
    return {}


def _rest(match: re.Match[str]) -> str:
    """The words after a request's opening: from the ``rest`` group to the end of the text."""
    return match.string[match.start("rest") :]


_NAMED = r"\s*(?:called|named|titled|:)?\s*(?P<rest>.)"
_TASKS = r"(?:tasks|todos|to-dos)"
_DOCS = r"(?:documents|docs|notes)"

_RULES: list[tuple[str, re.Pattern[str], Callable[[re.Match[str]], dict[str, Any] | None]]] = [
    (
        "recall",
        re.compile(
            r"\b(?:what\s+do\s+you\s+(?:remember|know)\s+about|recall)\s+(?P<rest>.)", _FLAGS
        ),
        _named("query"),
    ),
    (
        "remember",
        re.compile(r"\bremember(?:\s+that)?\s+(?P<rest>.)", _FLAGS),
        lambda match: {"content": value[:4000]} if (value := clean(_rest(match))) else None,
    ),
    (
        "create_task",
        re.compile(
            r"\b(?:create|add|make|new)\s+(?:a\s+|an\s+|the\s+)?(?:new\s+)?(?:task|todo|to-do)\b"
            r"\s*(?:called|named|titled|:|to\b)?\s*(?P<rest>.)",
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
            + r"\s+(?:for|about|on|mentioning)\s+(?P<rest>.)",
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
            + r"\s+(?P<rest>.)",
            _FLAGS,
        ),
        _named("query"),
    ),
    (
        "search_documents",
        re.compile(r"\bsearch(?P<space>\s+)(?:for\s+)?(?=.)", _FLAGS),
        _search_in_documents,
    ),
    (
        "list_tasks",
        re.compile(
            r"\b(?:list|show|display|view|see|get|give)\s+(?:me\s+)?(?:all\s+)?(?:of\s+)?"
            r"(?:my\s+|the\s+|our\s+|all\s+)?(?:open\s+|current\s+|pending\s+)?" + _TASKS + r"\b"
            r"|\bwhat\s+" + _TASKS + r"\s+(?:do\s+i\s+have|are\s+there|have\s+i\s+got)"
            r"|\bwhat\s+(?:are|is)\s+(?:my|the)\s+" + _TASKS + r"\b"
            r"|^\s*(?:my\s+)?" + _TASKS + r"(?:\s*\?)?\s*$",
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
            r"|^\s*(?:my\s+)?projects(?:\s*\?)?\s*$",
            _FLAGS,
        ),
        _no_args,
    ),
]


def _without_polite_tail(text: str) -> str:
    found = _POLITE_TAIL_REVERSED.match(text[::-1])
    return text[: len(text) - found.end()] if found else text


def _opening(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The first match of a request's opening words that ends within the first
    ``OPENING_CHARS`` characters (one that reaches the cut is checked against the whole text)."""
    found = pattern.search(text, 0, OPENING_CHARS)
    if found is None or found.end() < OPENING_CHARS or len(text) <= OPENING_CHARS:
        return found
    return pattern.match(text, found.start())


def match_request(text: str, available: set[str]) -> Intent | None:
    """The first tool call ``text`` asks for among the ``available`` tools, if any."""
    text = _without_polite_tail(text.strip())
    for tool, pattern, to_args in _RULES:
        if tool not in available:
            continue
        match = _opening(pattern, text)
        if match is None:
            continue
        args = to_args(match)
        if args is not None:
            return Intent(tool, args)
    return None
