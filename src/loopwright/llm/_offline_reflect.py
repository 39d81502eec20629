"""The offline model's reflection: a request opening with ``REFLECT_MARKER`` gets the memories
the conversation's user asked it to keep ("remember that I prefer short answers" → a
preference), as the JSON ``runtime/reflection`` reads. Deterministic: the same conversation
gets the same suggestions."""

from __future__ import annotations

import json
import re

from loopwright.domain.vocabulary import REFLECT_MARKER

_LINE = re.compile(r"^\[(?P<id>[^\]]+)\] user: (?P<text>.*)$")
_REMEMBER = re.compile(r"\bremember(?:\s+that)?\s+(?P<what>[^.!?\n]+)", re.IGNORECASE)
_PREFERENCE = re.compile(r"\b(prefer|like|love|hate|dislike|want|enjoy)s?\b", re.IGNORECASE)
_INSTRUCTION = re.compile(r"^(always|never|don't|do not|please)\b", re.IGNORECASE)


def reflect_reply(prompt: str) -> str | None:
    """The JSON answer to a reflection request, or None if ``prompt`` is not one."""
    if not prompt.startswith(REFLECT_MARKER):
        return None
    found = []
    for line in prompt.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        for wanted in _REMEMBER.finditer(match["text"]):
            what = wanted["what"].strip()
            if not what:
                continue
            content = what[0].upper() + what[1:]
            kind = (
                "instruction"
                if _INSTRUCTION.match(what)
                else "preference"
                if _PREFERENCE.search(what)
                else "fact"
            )
            found.append(
                {
                    "content": content,
                    "type": kind,
                    "importance": 0.5 if kind == "fact" else 0.7,
                    "reason": "The user asked to remember this.",
                    "message_ids": [match["id"]],
                }
            )
    return json.dumps({"memories": found})
