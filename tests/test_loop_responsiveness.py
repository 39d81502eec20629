"""The largest message a member may send keeps the server answering everyone else.

A run's work happens on the server's event loop; a long message must not make it stall (the
offline model's phrase matching once took 93 s on a 99 KB message, during which no store got an
answer). A real server process gets messages of the largest accepted length for the offline
agent while another client keeps asking ``/healthz`` and times every answer.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.procs import OPERATOR_KEY, ServerProcess

MAX_CONTENT = 100_000  # MessageCreate.content's max_length
HEALTHZ_BOUND_S = 0.25
TOOLS = ["create_task", "list_tasks", "create_project", "list_projects", "create_document"]


def exactly(text: str, filler: str) -> str:
    """``text`` followed by ``filler`` repeated, cut to the largest accepted length."""
    return (text + filler * MAX_CONTENT)[:MAX_CONTENT]


LARGEST_MESSAGES = {
    # Many "in"s after a task title: the old matcher retried a scan to the end from each one.
    "task title of prepositions": exactly("create a task called Pack ", "in "),
    # A long document body: read whole, stored, and its title echoed in the reply.
    "document body": exactly(
        "create a document called Minutes with content ", "the board met and agreed. "
    ),
    # Long whitespace runs once made the splitting and politeness patterns cubic.
    "whitespace run": exactly("create a document called Notes", " ")[:-1] + "x",
    # No request at all: the help reply.
    "plain words": exactly("", "lorem ipsum dolor sit amet "),
}


WARM_UP = [
    "create a task called Pack in project Home",
    "create a document called Minutes with content The board met.",
    "hello",
]


class HealthzProbe:
    """Asks ``/healthz`` back to back until stopped and keeps the slowest answer's time."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.slowest_s = 0.0
        self.answers = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> HealthzProbe:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task

    async def _run(self) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=300) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                r = await client.get("/healthz")
                self.slowest_s = max(self.slowest_s, time.perf_counter() - started)
                assert r.status_code == 200
                self.answers += 1


@pytest.fixture
async def server(tmp_path: Path) -> ServerProcess:
    server = ServerProcess(tmp_path)
    await server.start()
    return server


async def member_session(server: ServerProcess) -> tuple[httpx.AsyncClient, str]:
    """A store, a member client, and a session with the offline agent (warmed by one run)."""
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=operator) as op:
        assert (await op.post("/v1/stores", json={"id": "busy"})).status_code == 201
        # 100,000-character messages are ~25,000 tokens each: over the default tokens/min
        limits = {"runs_per_min": None, "tokens_per_min": None}
        assert (await op.patch("/v1/stores/busy/settings", json=limits)).status_code == 200
        r = await op.post("/v1/stores/busy/keys", json={"role": "admin"})
        admin_key = r.json()["key"]
    base = f"{server.base_url}/v1/stores/busy"
    async with httpx.AsyncClient(base_url=base, headers=_bearer(admin_key)) as admin:
        r = await admin.post("/agents", json={"name": "offline", "tools": TOOLS})
        assert r.status_code == 201, r.text
        agent_id = r.json()["id"]
        member_key = (await admin.post("/keys", json={"role": "member"})).json()["key"]
    member = httpx.AsyncClient(base_url=base, headers=_bearer(member_key), timeout=300)
    r = await member.post("/sessions", json={"agent_id": agent_id})
    assert r.status_code == 201, r.text
    session_id = r.json()["id"]
    for short in WARM_UP:  # code paths run for the first time are not what is measured
        run = await send(member, session_id, short)
        assert run["status"] == "completed", run
    return member, session_id


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def send(member: httpx.AsyncClient, session_id: str, content: str) -> dict[str, object]:
    """Send ``content`` and wait for its run to end; the run as the server reports it."""
    r = await member.post(f"/sessions/{session_id}/messages", json={"content": content})
    assert r.status_code == 202, r.text
    run_id = r.json()["run"]["id"]
    r = await member.post(f"/runs/{run_id}/wait", params={"timeout_s": 120})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_the_largest_messages_leave_health_checks_answered_at_once(
    server: ServerProcess,
) -> None:
    member, session_id = await member_session(server)
    try:
        for name, content in LARGEST_MESSAGES.items():
            assert len(content) == MAX_CONTENT
            async with HealthzProbe(server.base_url) as probe:
                run = await send(member, session_id, content)
            assert (run["status"], run["stop_reason"]) == ("completed", "final_answer"), run
            assert probe.answers > 0
            assert probe.slowest_s < HEALTHZ_BOUND_S, f"{name}: /healthz took {probe.slowest_s} s"
    finally:
        await member.aclose()
