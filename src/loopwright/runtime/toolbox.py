"""The tools a run may use: their definitions for the model and who may call what."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic_ai import ToolDefinition

from loopwright.tools.builtin import BUILTIN_TOOLS
from loopwright.tools.spec import ToolSpec


def find_spec(name: str) -> ToolSpec | None:
    return BUILTIN_TOOLS.get(name)


def tool_definitions(names: Iterable[str]) -> list[ToolDefinition]:
    return [spec.definition() for name in names if (spec := find_spec(name)) is not None]


def refusal(assigned: Iterable[str], name: str) -> str | None:
    """Why a call must not run, or None: the server decides, whatever the model names."""
    if name not in set(assigned):
        return f"tool {name!r} is not assigned to this agent"
    if find_spec(name) is None:
        return f"tool {name!r} does not exist"
    return None
