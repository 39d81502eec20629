"""A tool's contract: name, description, read-only flag and typed arguments.

The JSON schema the model sees is derived from the arguments' pydantic model, and the same
model validates what the model sends back.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_ai import ToolDefinition


class ToolArgs(BaseModel):
    """Base for tool arguments: unknown fields are an error the model gets to see."""

    model_config = ConfigDict(extra="forbid")


class ToolArgumentsInvalid(Exception):
    """The model's arguments do not fit the tool's schema."""

    def __init__(self, tool: str, problems: list[dict[str, Any]]) -> None:
        super().__init__(f"arguments for {tool} failed validation")
        self.tool = tool
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    read_only: bool
    args: type[ToolArgs]

    def parameters(self) -> dict[str, Any]:
        return self.args.model_json_schema()

    def definition(self) -> ToolDefinition:
        """What the model sees; built once per spec (a run offers it on every model step).
        Shared: callers must not mutate it (pydantic-ai copies schemas before changing them)."""
        return _definition(self)

    def validate(self, arguments: dict[str, Any]) -> ToolArgs:
        try:
            return self.args.model_validate(arguments)
        except ValidationError as exc:
            problems = [
                {"loc": [str(x) for x in e["loc"]], "message": e["msg"]} for e in exc.errors()
            ]
            raise ToolArgumentsInvalid(self.name, problems) from exc


@functools.cache
def _definition(spec: ToolSpec) -> ToolDefinition:
    return ToolDefinition(
        name=spec.name, description=spec.description, parameters_json_schema=spec.parameters()
    )
