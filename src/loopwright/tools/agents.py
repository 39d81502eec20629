"""Tools that reach other agents: ``ask_agent`` starts a child run and returns its answer.

The runtime runs them (a child run is durable work of its own); here is only their contract.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field

from loopwright.tools.spec import ToolArgs, ToolSpec


class AskAgentArgs(ToolArgs):
    agent: Annotated[str, Field(min_length=1, max_length=100, description="the agent's name")]
    message: Annotated[str, Field(min_length=1, max_length=100_000, description="what to ask it")]


ASK_AGENT = ToolSpec(
    name="ask_agent",
    description=(
        "Ask another agent of this workspace to do something and wait for its answer. "
        "Several calls in one reply run in parallel."
    ),
    # The child itself is read-only when its parent is: asking changes nothing on its own.
    read_only=True,
    args=AskAgentArgs,
)

AGENT_TOOLS: Final[dict[str, ToolSpec]] = {ASK_AGENT.name: ASK_AGENT}
