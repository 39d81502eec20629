"""`loopwright chat` in a real terminal (tmux) against a real server process: what the screen
shows, the commands, and Ctrl-C cancelling a slow run."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from loopwright.client import AsyncClient
from tests.llm.fakes import Reply
from tests.procs import OPERATOR_KEY, ServerProcess
from tests.scripted import GatedLLM, Hold
from tests.terminal import Terminal

pytestmark = pytest.mark.skipif(not Terminal.available(), reason="tmux is not installed")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[ServerProcess, str]]:
    """A server process with a store; (server, its admin key)."""
    process = ServerProcess(tmp_path, {"LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32"})
    await process.start()
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with httpx.AsyncClient(base_url=process.base_url, headers=operator) as op:
        assert (await op.post("/v1/stores", json={"id": "tty"})).status_code == 201
        r = await op.post("/v1/stores/tty/keys", json={"role": "admin"})
    yield process, r.json()["key"]
    await process.stop()


@pytest.fixture
def terminal() -> AsyncIterator[Terminal]:
    term = Terminal()
    yield term
    term.close()


def chat_command(*args: str) -> tuple[list[str], dict[str, str]]:
    env = {
        "PYTHONPATH": str(ROOT / "src"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TERM": "xterm-256color",
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    return [sys.executable, "-m", "loopwright", "chat", *args], env


async def test_chat_shows_text_tool_calls_and_steps_and_its_commands_work(
    server: tuple[ServerProcess, str], terminal: Terminal
) -> None:
    process, key = server
    async with AsyncClient(process.base_url, key) as lw:
        await lw.agents.create(name="helper", tools=["create_task"], max_steps=5, memory=True)
    command, env = chat_command("--agent", "helper", "--url", process.base_url)
    terminal.start(command, {**env, "LOOPWRIGHT_KEY": key})  # the key from the environment
    await terminal.wait_text("you>", timeout_s=60)

    terminal.type("create a task called Buy milk")
    screen = await terminal.wait_text("── completed")
    assert "⚙ create_task" in screen and "✓ create_task ok" in screen
    assert "[offline]" in screen and "Buy milk" in screen
    assert "(step 1/5)" in screen and "(step 2/5)" in screen

    terminal.type("/help")
    await terminal.wait_text("/resume N|ID")
    terminal.type("/new")
    await terminal.wait_text("new session", count=2)
    terminal.type("/sessions")
    screen = await terminal.wait_text("  2. ses_")
    assert "*  1. ses_" in screen  # the new one, newest first, is the current one
    terminal.type("/resume 2")
    screen = await terminal.wait_text("resumed session")
    assert screen.rsplit("resumed session", 1)[1].count("create a task called Buy milk") == 1
    terminal.type("/bogus")
    await terminal.wait_text("unknown command /bogus")

    # Memory: reflect on the session, keep what it suggests, list what the agent remembers.
    terminal.type("remember that I prefer green tea")
    await terminal.wait_text("── completed", count=2)
    terminal.type("/reflect")
    screen = await terminal.wait_text("keep / discard / skip>")
    assert "remember? [preference] I prefer green tea" in screen
    terminal.type("maybe")
    await terminal.wait_text("answer keep, discard or skip")
    terminal.type("keep")
    await terminal.wait_text("✓ kept")
    terminal.type("/memories")
    await terminal.wait_text("  [preference] I prefer green tea")
    terminal.keys("C-d")
    await terminal.wait_for(lambda _: terminal.exited())
    assert "bye" in terminal.screen()


async def test_ctrl_c_cancels_a_slow_run_and_a_second_leaves(
    server: tuple[ServerProcess, str], terminal: Terminal, fake: tuple[GatedLLM, str]
) -> None:
    process, key = server
    llm, model_url = fake
    llm.push(Hold(Reply(text=["too ", "late"])))
    async with AsyncClient(process.base_url, key) as lw:
        await lw.providers.create("fake", "openai", base_url=f"{model_url}/v1", api_key="k")
        await lw.agents.create(name="slow", model="fake:m")
        command, env = chat_command("--agent", "slow", "--store", "tty", "--key", key)
        terminal.start(command, {**env, "LOOPWRIGHT_URL": process.base_url})
        await terminal.wait_text("you>", timeout_s=60)
        terminal.type("hello there")
        await llm.wait_for_requests(1)  # the run is in its model call, which never answers
        await terminal.wait_text("run started")
        terminal.keys("C-c")
        screen = await terminal.wait_text("── cancelled (cancelled)")
        assert "cancelling" in screen and "late" not in screen
        runs = (await lw.runs.list()).items
        assert [r.status for r in runs] == ["cancelled"]
        await terminal.wait_text("you>", count=2)
        terminal.keys("C-c")
        await terminal.wait_for(lambda _: terminal.exited())
        assert "bye" in terminal.screen()


async def test_the_chat_asks_for_approvals_and_decides_them(
    server: tuple[ServerProcess, str], terminal: Terminal
) -> None:
    process, key = server
    async with AsyncClient(process.base_url, key) as lw:
        await lw.agents.create(name="careful", tools=["create_task"], approval="always")
        command, env = chat_command("--agent", "careful", "--url", process.base_url, "--key", key)
        terminal.start(command, env)
        await terminal.wait_text("you>", timeout_s=60)

        terminal.type("create a task called Buy milk")
        screen = await terminal.wait_text("approve / reject (reason) / skip>")
        assert "⚠ approval needed: create_task" in screen
        assert '"title": "Buy milk"' in screen
        assert [t.title for t in (await lw.tasks.list()).items] == []  # held until decided
        terminal.type("maybe")
        await terminal.wait_text("answer approve, reject and a reason, or skip")
        terminal.type("approve")
        screen = await terminal.wait_text("── completed")
        assert "✓ approved by " in screen and "✓ create_task ok" in screen
        assert [t.title for t in (await lw.tasks.list()).items] == ["Buy milk"]
        [approved] = (await lw.approvals.list(status="approved")).items
        assert approved.arguments == {"title": "Buy milk"}

        terminal.type("create a task called Sell car")
        await terminal.wait_text("approve / reject (reason) / skip>", count=2)
        terminal.type("reject not this week")
        screen = await terminal.wait_text("── completed", count=2)
        assert "✗ rejected by " in screen and ": not this week" in screen
        assert [t.title for t in (await lw.tasks.list()).items] == ["Buy milk"]
        [rejected] = (await lw.approvals.list(status="rejected")).items
        assert rejected.reason == "not this week"
        terminal.keys("C-d")
        await terminal.wait_for(lambda _: terminal.exited())
