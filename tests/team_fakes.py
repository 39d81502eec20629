"""Fakes for team mode tests: a planner's ``team_decide`` calls, and an executor model that
answers each request by what it asks (executors run concurrently, so a script in order would
not do), can hold its answers at a gate and counts requests in flight."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from tests.llm.fakes import FakeLLM, Recorded, Reply, Step, ToolCall
from tests.scripted import _hang_up


def decide(route: str, reason: str = "because", plan: Any = None, id: str = "d1") -> ToolCall:
    args: dict[str, Any] = {"route": route, "reason": reason}
    if plan is not None:
        args["plan"] = plan
    return ToolCall("team_decide", args, id=id)


def step(key: str, depends_on: list[str] | None = None, **more: Any) -> dict[str, Any]:
    return {
        "id": key,
        "title": f"step {key}",
        "instructions": f"do step {key}",
        "depends_on": depends_on or [],
        **more,
    }


def last_user(body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    content = users[-1]["content"] if users else ""
    if isinstance(content, list):
        return " ".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    return str(content)


def has_tool_result(body: dict[str, Any]) -> bool:
    return any(m.get("role") == "tool" for m in body.get("messages", []))


class ExecutorLLM(FakeLLM):
    """Answers with ``answer(body)``; while ``gate`` is closed, requests wait (and count as
    in flight); a request whose client hangs up while waiting counts as ``abandoned``."""

    def __init__(self, answer: Callable[[dict[str, Any]], Step]) -> None:
        super().__init__()
        self.answer = answer
        self.gate = asyncio.Event()
        self.gate.set()
        self.in_flight = 0
        self.most_in_flight = 0
        self.abandoned = 0
        self.held: Callable[[dict[str, Any]], bool] = lambda body: True
        """Which requests wait while the gate is closed (default: all)."""
        self._changed = asyncio.Condition()

    def hold(self) -> None:
        self.gate = asyncio.Event()

    def release(self) -> None:
        self.gate.set()

    async def take(self, request: Request) -> tuple[Step, dict[str, Any]]:
        raw = await request.body()
        body: dict[str, Any] = json.loads(raw) if raw else {}
        peer = (request.client.host, request.client.port) if request.client else None
        self.requests.append(Recorded(request.url.path, dict(request.headers), body, peer))
        gate = self.gate
        async with self._changed:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self._changed.notify_all()
        try:
            if not gate.is_set() and self.held(body):
                opened = asyncio.ensure_future(gate.wait())
                gone = asyncio.ensure_future(_hang_up(request))
                await asyncio.wait({opened, gone}, return_when=asyncio.FIRST_COMPLETED)
                opened.cancel()
                gone.cancel()
                if not gate.is_set() and self.held(body):
                    self.abandoned += 1
        finally:
            async with self._changed:
                self.in_flight -= 1
                self._changed.notify_all()
        return self.answer(body), body

    async def wait_until(self, check: Callable[[], bool], timeout_s: float = 30) -> None:
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(check)


class _HungUp(Exception):
    """The client left while its request was held: nobody reads an answer."""


def echo_step(body: dict[str, Any]) -> Step:
    """The executor's answer names the step it was given."""
    first_line = last_user(body).splitlines()[0] if last_user(body) else "?"
    return Reply(text=[f"result of {first_line}"])
