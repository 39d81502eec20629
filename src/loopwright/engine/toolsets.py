"""Features of a toolset, each a wrapper: only the assigned tools, only read-only tools, a
rate limit, approvals. A wrapper hides tools from the model and refuses calls before the inner
toolset sees them; the refusal is recorded like any outcome, so the model reads why.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from loopwright.engine.ports import ToolInfo, ToolRoute, Toolset
from loopwright.engine.types import CallContext, ToolCall, ToolOutcome


class WrapperToolset:
    """Passes everything to ``inner``; subclasses change what they need."""

    def __init__(self, inner: Toolset) -> None:
        self.inner = inner

    async def available(self) -> Mapping[str, ToolInfo]:
        return await self.inner.available()

    def route(self, call: ToolCall) -> ToolRoute:
        return self.inner.route(call)

    async def call(self, call: ToolCall, ctx: CallContext) -> ToolOutcome:
        return await self.inner.call(call, ctx)


class AssignedOnly(WrapperToolset):
    """Only the agent's assigned tools, whatever the model names."""

    def __init__(self, inner: Toolset, assigned: Collection[str]) -> None:
        super().__init__(inner)
        self.assigned = frozenset(assigned)

    async def available(self) -> Mapping[str, ToolInfo]:
        found = await self.inner.available()
        return {wire: tool for wire, tool in found.items() if tool.name in self.assigned}

    async def call(self, call: ToolCall, ctx: CallContext) -> ToolOutcome:
        if self.inner.route(call).name not in self.assigned:
            return ToolOutcome.refused(f"tool {call.name!r} is not assigned to this agent")
        return await self.inner.call(call, ctx)


class ReadOnlyTools(WrapperToolset):
    """Only tools that change nothing (team-mode executors, children of read-only runs)."""

    async def available(self) -> Mapping[str, ToolInfo]:
        found = await self.inner.available()
        return {wire: tool for wire, tool in found.items() if tool.read_only}

    async def call(self, call: ToolCall, ctx: CallContext) -> ToolOutcome:
        tool = (await self.inner.available()).get(call.name)
        if tool is not None and not tool.read_only:
            return ToolOutcome.refused(
                f"tool {tool.name!r} writes, and this agent may only use read-only tools"
            )
        return await self.inner.call(call, ctx)


class RateLimiter(Protocol):
    async def refusal(self, tool: str, ctx: CallContext) -> str | None:
        """Why a call of ``tool`` may not run now, or None. Counted in the call's
        transaction when it has one, so concurrent calls queue on it."""
        ...


class RateLimited(WrapperToolset):
    def __init__(self, inner: Toolset, limiter: RateLimiter) -> None:
        super().__init__(inner)
        self.limiter = limiter

    async def call(self, call: ToolCall, ctx: CallContext) -> ToolOutcome:
        reason = await self.limiter.refusal(self.inner.route(call).name, ctx)
        if reason is not None:
            return ToolOutcome.refused(reason)
        return await self.inner.call(call, ctx)


ApprovalPolicy = Literal["never", "read_write", "always"]


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a call's approval stands: ``pending`` (the call waits for ``approval_id``),
    ``approved`` (with the arguments to run it with) or ``rejected`` (``reason`` for the
    model; an expired approval counts as rejected)."""

    status: Literal["pending", "approved", "rejected"]
    approval_id: str
    arguments: dict[str, Any] | None = None
    reason: str = ""


class ApprovalDesk(Protocol):
    async def decision(self, call: ToolCall, tool: str, ctx: CallContext) -> Decision:
        """The decision on this exact call (run, call id, tool, arguments), asking for one
        (in the call's transaction when it has one) if nobody was asked yet."""
        ...


class NeedsApproval(WrapperToolset):
    """Calls the agent's policy (``read_write``: every call of a tool that writes; ``always``),
    or a per-tool override, holds for a person: the call does not run, it waits on its
    approval (the run parks), and runs (with the approved arguments) once approved."""

    def __init__(
        self,
        inner: Toolset,
        desk: ApprovalDesk,
        policy: ApprovalPolicy,
        per_tool: Mapping[str, str],
    ) -> None:
        super().__init__(inner)
        self.desk = desk
        self.policy = policy
        self.per_tool = per_tool

    async def _needed(self, call: ToolCall, name: str) -> bool:
        override = self.per_tool.get(name)
        if override is not None:
            return override == "always"
        if self.policy == "always":
            return True
        if self.policy == "never":
            return False
        tool = (await self.inner.available()).get(call.name)
        return tool is not None and not tool.read_only

    async def call(self, call: ToolCall, ctx: CallContext) -> ToolOutcome:
        name = self.inner.route(call).name
        if not await self._needed(call, name):
            return await self.inner.call(call, ctx)
        decision = await self.desk.decision(call, name, ctx)
        if decision.status == "pending":
            return ToolOutcome("ok", None, waiting_on=(decision.approval_id,))
        if decision.status == "rejected":
            return ToolOutcome.refused(
                f"a person rejected this call of {name!r}: {decision.reason or 'no reason given'}"
            )
        arguments = call.arguments if decision.arguments is None else decision.arguments
        return await self.inner.call(replace(call, arguments=arguments), ctx)
