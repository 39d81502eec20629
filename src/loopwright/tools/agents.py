"""Tools that reach other agents: ``ask_agent`` starts a child run and returns its answer;
``send_message`` puts a message in another agent's mailbox, or waits for its answer.

The runtime runs them (a child run is durable work of its own); here is only their contract.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field

from loopwright.domain.vocabulary import Priority
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


class SendMessageArgs(ToolArgs):
    agent: Annotated[str, Field(min_length=1, max_length=100, description="the agent's name")]
    message: Annotated[str, Field(min_length=1, max_length=100_000, description="the message")]
    priority: Priority = Field(
        default="normal", description="critical, high, normal or low: the order it is taken in"
    )
    wait: bool = Field(default=False, description="wait for the agent's answer")


SEND_MESSAGE = ToolSpec(
    name="send_message",
    description=(
        "Send a message to another agent of this workspace. With wait=false it goes to the "
        "agent's mailbox and you go on; with wait=true you get its answer."
    ),
    read_only=False,
    args=SendMessageArgs,
)

AGENT_TOOLS: Final[dict[str, ToolSpec]] = {
    ASK_AGENT.name: ASK_AGENT,
    SEND_MESSAGE.name: SEND_MESSAGE,
}
