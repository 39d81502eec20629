"""A scriptable fake OpenAI-compatible model server with gates, for run tests.

Extends the wire-format fakes of ``tests.llm.fakes`` with ``Hold``: a reply that is sent only
when the test opens its gate, and a way to wait for the n-th request to arrive.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from tests.llm.fakes import FakeLLM, Reply, Step


@dataclass(frozen=True)
class Hold:
    """Wait for ``gate`` before answering with ``reply`` (never opened: the call hangs)."""

    reply: Reply
    gate: asyncio.Event = field(default_factory=asyncio.Event)


class GatedLLM(FakeLLM):
    def __init__(self) -> None:
        super().__init__()
        self._arrived = asyncio.Condition()
        self._gates: list[asyncio.Event] = []
        self.abandoned = 0
        """Held requests whose client hung up before the gate opened (an interrupted call)."""

    def reset(self) -> None:
        for gate in self._gates:  # let held requests finish so the server can stop
            gate.set()
        super().reset()

    async def take(self, request: Request) -> tuple[Step, dict[str, Any]]:
        # The body first (starlette keeps it): no await between looking at the script's head
        # and taking it, or two requests at once could take each other's steps.
        await request.body()
        head = self.script[0] if self.script else None
        if isinstance(head, Hold):
            self.script.popleft()
            self.script.appendleft(head.reply)
            self._gates.append(head.gate)
        step, body = await super().take(request)
        async with self._arrived:
            self._arrived.notify_all()
        if isinstance(head, Hold):
            opened = asyncio.ensure_future(head.gate.wait())
            gone = asyncio.ensure_future(_hang_up(request))
            await asyncio.wait({opened, gone}, return_when=asyncio.FIRST_COMPLETED)
            opened.cancel()
            gone.cancel()
            if not opened.done() or opened.cancelled():
                self.abandoned += 1
                async with self._arrived:
                    self._arrived.notify_all()
        return step, body

    async def wait_for_requests(self, count: int, timeout_s: float = 20) -> None:
        async with asyncio.timeout(timeout_s), self._arrived:
            await self._arrived.wait_for(lambda: len(self.requests) >= count)

    async def wait_for_abandoned(self, count: int, timeout_s: float = 20) -> None:
        async with asyncio.timeout(timeout_s), self._arrived:
            await self._arrived.wait_for(lambda: self.abandoned >= count)


async def _hang_up(request: Request) -> None:
    """Return when the client closes the connection (its body was read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool-result messages of an OpenAI chat-completions request body."""
    return [m for m in body.get("messages", []) if m.get("role") == "tool"]
