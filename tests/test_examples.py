"""The scripts in examples/ run against a real server (SQLite's, then PostgreSQL's), as a user
would run them."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.conftest import Store

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


async def run_example(store: Store, key: str, name: str, *args: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPWRIGHT_")}
    env.update(LOOPWRIGHT_URL=store.live.base_url, LOOPWRIGHT_KEY=key)
    return await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / name), *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def finished(proc: asyncio.subprocess.Process) -> str:
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_chat_example_creates_an_agent_and_chats(store: Store) -> None:
    out = await finished(await run_example(store, await store.key("admin"), "chat_with_agent.py"))
    assert "[calling create_task]" in out and "[calling list_tasks]" in out
    assert "Buy milk" in out and out.count("(completed: final_answer)") == 2


async def test_follow_example_prints_a_run_as_it_happens(store: Store) -> None:
    proc = await run_example(store, await store.key("readonly"), "follow_events.py", "--until",
                             "run.completed")  # fmt: skip
    assert proc.stdout is not None
    assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"following"
    agent = await store.agent()
    session = await store.session(agent["id"])
    await store.admin.post(
        f"{store.path}/sessions/{session['id']}/messages", json={"content": "hi"}
    )
    out = await finished(proc)
    types = [line.split()[1] for line in out.splitlines()]
    assert types[:2] == ["agent.created", "session.created"] and types[-1] == "run.completed"
    assert "run.started" in types and "llm.text_delta" in types


async def test_offline_demo_example_runs_end_to_end(store: Store) -> None:
    out = await finished(await run_example(store, await store.key("admin"), "offline_demo.py"))
    assert out.count("[completed]") == 4 and "Buy milk" in out
    assert "plan.created" in out and "plan completed: 2 steps" in out
