"""Calling one tool: the run's tool step and the tool-test route both go through ``call``.

A tool is resolved before it is called (``Target``): a built-in tool's spec, a store's HTTP tool
with its headers decrypted, or an MCP server's endpoint and the tool's name there. ``call``
checks the arguments against the tool's schema and runs it through the process's shared
clients: a built-in tool acts on its store through a ``WorkspacePort`` (in the caller's
transaction), an HTTP tool goes out through the shared HTTP client with the egress guard
checking every hop, and an MCP tool through the MCP pool once the guard passed the server's
URL. The outcome is always a value, ``("ok" | "error", content)``, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx2
from pydantic_core import to_jsonable_python

from loopwright.egress import EgressGuard
from loopwright.errors import LoopwrightError
from loopwright.tools.builtin_handlers import invoke
from loopwright.tools.http_tool import HttpToolDef, call_http_tool, validate_arguments
from loopwright.tools.mcp import McpEndpoint, McpPool
from loopwright.tools.spec import ToolArgumentsInvalid, ToolSpec
from loopwright.tools.workspace_port import WorkspacePort

Outcome = tuple[Literal["ok", "error"], Any]


@dataclass(frozen=True, slots=True)
class McpTarget:
    """The tool ``tool`` of the MCP server ``endpoint``."""

    endpoint: McpEndpoint
    tool: str


Target = ToolSpec | HttpToolDef | McpTarget


class ToolClients(Protocol):
    """The clients a process shares between all its tool calls (the runtime has them)."""

    @property
    def http(self) -> httpx2.AsyncClient: ...
    @property
    def egress(self) -> EgressGuard: ...
    @property
    def mcp(self) -> McpPool: ...


def check_arguments(tool: Target, arguments: Mapping[str, Any]) -> None:
    """Raise ``ToolArgumentsInvalid`` unless ``arguments`` fit the tool's schema (an MCP server
    checks the arguments of its own tools)."""
    if isinstance(tool, ToolSpec):
        tool.validate(dict(arguments))
    elif isinstance(tool, HttpToolDef):
        validate_arguments(tool, arguments)


async def call(
    tool: Target,
    arguments: dict[str, Any],
    *,
    clients: ToolClients,
    key: str,
    timeout_s: float,
    workspace: WorkspacePort | None = None,
) -> Outcome:
    """Run ``tool`` once. ``key`` names the call for the far side to de-duplicate (HTTP
    ``Idempotency-Key``, MCP request metadata); a built-in tool needs ``workspace``."""
    try:
        if isinstance(tool, ToolSpec):
            if workspace is None:
                raise TypeError(f"the built-in tool {tool.name} acts through a WorkspacePort")
            args = tool.validate(arguments)
            ok, content = await invoke(
                workspace, tool.name, args, timeout_s=timeout_s, read_only=tool.read_only
            )
        elif isinstance(tool, HttpToolDef):
            ok, content = await call_http_tool(
                tool,
                arguments,
                client=clients.http,
                egress=clients.egress,
                idempotency_key=key,
                timeout_s=timeout_s,
            )
        else:
            await clients.egress.check_url(tool.endpoint.url)
            result = await clients.mcp.call_tool(
                tool.endpoint, tool.tool, arguments, idempotency_key=key, timeout_s=timeout_s
            )
            ok, content = result.ok, to_jsonable_python(result.content)
    except ToolArgumentsInvalid as exc:
        return "error", {
            "error": "the arguments do not match the tool's schema",
            "problems": exc.problems,
        }
    except LoopwrightError as exc:
        return "error", {"error": exc.message}
    return ("ok" if ok else "error"), content
