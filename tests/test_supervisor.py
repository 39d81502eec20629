"""``serve --processes N``: N processes on one port, each restarted with its DBOS executor id
when it dies, so it recovers its own runs; and runs left by a process of an earlier, larger
``--processes`` are adopted by the first process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

from loopwright.server.supervisor import inherited_socket
from tests.llm.fakes import Reply, ToolCall
from tests.procs import ServerProcess, free_port
from tests.scripted import GatedLLM, Hold
from tests.test_durability import count, finish, first_requests, setup_store

T = TypeVar("T")


def children(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(child) for child in text.split()}


def index_of(pid: int) -> int | None:
    """The child's process index; None until it has exec'd (a forked child shows the
    supervisor's environment until then)."""
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    for entry in environ:
        if entry.startswith(b"LOOPWRIGHT_PROCESS_INDEX="):
            return int(entry.split(b"=", 1)[1])
    return None


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if os.path.exists(f"/proc/{pid}")}


async def until(check: Callable[[], T | None], timeout_s: float = 60) -> T:
    """Poll another process's state (there is nothing to await) until ``check`` has it."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.1)


async def replaced(supervisor: int, gone: set[int], expected: int) -> set[int]:
    """The supervisor's children once none of ``gone`` is among them and ``expected`` run."""

    def check() -> set[int] | None:
        now = children(supervisor)
        if len(now) != expected or now & gone or None in {index_of(pid) for pid in now}:
            return None
        return now

    return await until(check)


async def test_processes_share_the_port_and_a_killed_one_comes_back_with_its_runs(
    tmp_path: Path, fake: tuple[GatedLLM, str]
) -> None:
    llm, model_url = fake
    server = ServerProcess(tmp_path, {"LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32"})
    server.extra_args = ["--processes", "2"]
    await server.start()
    assert server.proc is not None
    supervisor = server.proc.pid
    first = await replaced(supervisor, set(), 2)
    assert sorted(index_of(pid) for pid in first) == [0, 1]

    admin, session_id = await setup_store(server, model_url)
    llm.push(
        Reply(tool_calls=[ToolCall("create_task", {"title": "Exactly once"}, id="c1")]),
        Hold(Reply(text=["lost"])),  # the second model call hangs: we kill the processes
        Reply(text=["Created it."]),
    )
    r = await admin.post(
        f"{server.base_url}/v1/stores/durable/sessions/{session_id}/messages",
        json={"content": "make the task"},
    )
    run_id = r.json()["run"]["id"]
    await llm.wait_for_requests(2)
    for pid in first:  # whichever runs it: both die without a word
        os.kill(pid, signal.SIGKILL)
    second = await replaced(supervisor, first, 2)
    assert sorted(index_of(pid) for pid in second) == [0, 1]

    run = await finish(server, admin, run_id)
    assert (run["status"], run["steps"]) == ("completed", 2)
    assert len(first_requests(llm)) == 1  # the completed first model request was not resent
    assert count(server, "SELECT count(*) FROM tasks") == 1
    await admin.aclose()

    server.proc.terminate()
    assert await server.exited() == 0
    assert not alive(second)  # stopped with it


async def test_the_first_process_adopts_the_runs_of_a_process_no_longer_started(
    tmp_path: Path, fake: tuple[GatedLLM, str]
) -> None:
    """A server ran with --processes 2; its second process died in a run; it comes back
    with one process: that run has no process of its own any more, and still finishes."""
    llm, model_url = fake
    env = {"LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32"}
    second = ServerProcess(tmp_path, env)
    await second.start(LOOPWRIGHT_PROCESS_INDEX="1")  # as the supervisor starts it
    admin, session_id = await setup_store(second, model_url)
    llm.push(Hold(Reply(text=["lost"])), Reply(text=["Done."]))
    r = await admin.post(
        f"{second.base_url}/v1/stores/durable/sessions/{session_id}/messages",
        json={"content": "go"},
    )
    run_id = r.json()["run"]["id"]
    await llm.wait_for_requests(1)
    await second.kill()

    alone = ServerProcess(tmp_path, env)
    await alone.start()  # process 0 of 1
    run = await finish(alone, admin, run_id)
    assert run["status"] == "completed"
    await admin.aclose()
    await alone.stop()


async def test_the_processes_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)
    server.extra_args = ["--processes", "2"]
    await server.start()
    assert server.proc is not None
    started = await replaced(server.proc.pid, set(), 2)
    await server.kill()  # SIGKILL: the supervisor cannot stop them itself

    await until(lambda: True if not alive(started) else None, timeout_s=30)


async def test_a_childs_inherited_socket_gets_tcp_connections_without_nagle() -> None:
    """The child rebuilds the listening socket from its descriptor with its real family, so
    asyncio turns Nagle's algorithm off on each connection (small SSE writes go at once)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    inherited = inherited_socket(os.dup(listener.fileno()))
    nodelay: asyncio.Queue[int] = asyncio.Queue()

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        nodelay.put_nowait(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=inherited)
    _, writer = await asyncio.open_connection(*listener.getsockname())
    assert await asyncio.wait_for(nodelay.get(), 5) == 1
    writer.close()
    server.close()
    await server.wait_closed()
    listener.close()


async def test_the_first_process_makes_the_demo_store_once(tmp_path: Path) -> None:
    """The supervisor leaves the demo store to its first process (it loads no database code):
    one admin key is printed, and it works on either process. Its team agent compares the
    demo projects with a plan."""
    port = free_port()
    env = {**os.environ, "LOOPWRIGHT_CREATE_DEMO": "true", "LOOPWRIGHT_LOG_LEVEL": "warning"}
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "loopwright", "serve", "--processes", "2"],
        *["--port", str(port), "--data-dir", str(tmp_path)],
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not lines or "processes ready" not in lines[-1]:
                line = (await proc.stdout.readline()).decode()
                assert line, f"the server stopped: {lines}"
                lines.append(line)
        keys = [line.split("admin key:")[1].strip() for line in lines if "admin key:" in line]
        assert len(keys) == 1, lines
        headers = {"Authorization": f"Bearer {keys[0]}"}
        async with httpx.AsyncClient(headers=headers, timeout=10) as client:
            for _ in range(4):  # new connections: the processes take them in turn
                r = await client.get(
                    f"http://127.0.0.1:{port}/v1/stores/demo/agents",
                    headers={"Connection": "close"},
                )
                assert r.status_code == 200
                agents = {a["name"]: a for a in r.json()["items"]}
                assert sorted(agents) == ["assistant", "team"]
                assert {a["model"] for a in agents.values()} == {"offline:default"}
            # the demo team agent plans one step per demo project
            demo = f"http://127.0.0.1:{port}/v1/stores/demo"
            chat = await client.post(f"{demo}/sessions", json={"agent_id": agents["team"]["id"]})
            sent = await client.post(
                f"{demo}/sessions/{chat.json()['id']}/messages",
                json={"content": "compare my projects", "wait": True, "wait_timeout_s": 30},
            )
            assert sent.json()["run"]["status"] == "completed", sent.text
            plans = await client.get(f"{demo}/plans", params={"run_id": sent.json()["run"]["id"]})
            plan = await client.get(f"{demo}/plans/{plans.json()['items'][0]['id']}")
            steps = plan.json()["steps"]
            assert sorted(s["title"] for s in steps) == [
                "Review project Home",
                "Review project Work",
            ]
            assert {s["status"] for s in steps} == {"completed"}
    finally:
        proc.terminate()
        await proc.wait()
