"""The options every command through the API takes (typer only: importing this loads no
client)."""

from __future__ import annotations

from typing import Annotated

import typer

Url = Annotated[
    str | None,
    typer.Option("--url", envvar="LOOPWRIGHT_URL", help="server URL", show_default=False),
]
Key = Annotated[
    str | None, typer.Option("--key", envvar="LOOPWRIGHT_KEY", help="API key", show_default=False)
]
StoreOpt = Annotated[
    str | None,
    typer.Option("--store", envvar="LOOPWRIGHT_STORE", help="store id (default: the key's)"),
]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]

AgentModel = Annotated[str | None, typer.Option("--model", help="provider:model")]
AgentDescription = Annotated[str | None, typer.Option("--description")]
AgentPrompt = Annotated[str | None, typer.Option("--system-prompt")]
AgentTools = Annotated[str | None, typer.Option("--tools", help="comma-separated tool names")]
AgentSteps = Annotated[int | None, typer.Option("--max-steps")]
AgentMode = Annotated[str | None, typer.Option("--mode", help="single or team")]
AgentStatus = Annotated[str | None, typer.Option("--status", help="active or disabled")]
