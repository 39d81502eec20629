"""A Loopwright server in its own process, for tests that kill it or need a second database;
forked from tests/forkserver.py when it can be (no import at each start)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Protocol

import httpx

from tests.forkserver import forkable

OPERATOR_KEY = "operator-test-key"
READY_TIMEOUT_S = 120  # importing the server takes ~25 s on two cores shared with other work


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


STARTED: list[ServerProcess] = []
"""Every server started by a test, so a fixture can stop the ones a failing test left."""


class Proc(Protocol):
    """What ServerProcess uses of a process: asyncio's, or a child of the fork server."""

    returncode: int | None

    def send_signal(self, sig: int) -> None: ...
    def terminate(self) -> None: ...
    async def wait(self) -> int: ...


class ForkedProcess:
    """A child of the fork server (tests/forkserver.py): signalled by pid, its exit status read
    from the fork server's connection."""

    def __init__(self, pid: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.pid = pid
        self.returncode: int | None = None
        self._writer = writer
        self._done = asyncio.get_running_loop().create_task(self._watch(reader))

    async def _watch(self, reader: asyncio.StreamReader) -> None:
        line = await reader.readline()
        self.returncode = int(json.loads(line)["returncode"]) if line else -1
        self._writer.close()

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    async def wait(self) -> int:
        await asyncio.shield(self._done)
        assert self.returncode is not None
        return self.returncode


class ForkServer:
    """This test process's fork server, started on first use, gone when this process ends."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.path = ""
        self.env: dict[str, str] = {}
        self.stats: dict[str, int] = {}
        self.ready = False
        self._ready_lock = threading.Lock()  # two first spawns at once: one reads "ready"

    def start(self) -> None:
        """Start importing (at the session's start: it overlaps the first tests)."""
        if self.proc is not None:
            return
        self.path = os.path.join(tempfile.mkdtemp(prefix="lw-fork-"), "sock")
        self.env = dict(os.environ)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.forkserver", self.path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def _ready(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with self._ready_lock:
            if not self.ready:
                if self.proc.stdout.readline() != b"ready\n":
                    raise RuntimeError(f"the fork server did not start ({self.proc.wait()})")
                self.ready = True

    async def spawn(self, args: list[str], env: dict[str, str], output: IO[bytes] | None) -> Proc:
        self.start()
        await asyncio.to_thread(self._ready)
        if not forkable(env, self.env):
            self.stats["exec"] = self.stats.get("exec", 0) + 1
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "loopwright", *args, env=env, stdout=output, stderr=output
            )
        request = json.dumps({"args": args, "env": env, "cwd": os.getcwd()}).encode() + b"\n"
        fds = [output.fileno()] * 2 if output is not None else [1, 2]  # as an exec'd child's
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.path)  # a local socket whose server accepts at once
        socket.send_fds(sock, [request], fds)
        sock.setblocking(False)
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        self.stats["fork"] = self.stats.get("fork", 0) + 1
        pid = int(json.loads(await reader.readline())["pid"])
        return ForkedProcess(pid, reader, writer)


FORK_SERVER = ForkServer()


class ServerProcess:
    def __init__(
        self, data_dir: Path, env: dict[str, str] | None = None, output: Path | None = None
    ) -> None:
        """``output``: a file for the process's stdout and stderr (default: the test's own)."""
        self.data_dir = data_dir
        self.env = env or {}
        self.output = output
        self.proc: Proc | None = None
        self.base_url = ""
        self.extra_args: list[str] = []

    async def start(self, **extra_env: str) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "LOOPWRIGHT_OPERATOR_KEY": OPERATOR_KEY,
            "LOOPWRIGHT_CREATE_DEMO": "false",
            "LOOPWRIGHT_LOG_LEVEL": "warning",
            **self.env,
            **extra_env,
        }
        sink = None if self.output is None else self.output.open("ab")
        args = ["serve", "--port", str(port), "--data-dir", str(self.data_dir), *self.extra_args]
        self.proc = await FORK_SERVER.spawn(args, env, sink)
        if sink is not None:
            sink.close()  # the process has its own copy
        STARTED.append(self)
        deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_S
        async with httpx.AsyncClient() as client:
            while asyncio.get_running_loop().time() < deadline:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}")
                try:
                    if (await client.get(f"{self.base_url}/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)  # readiness poll of a starting process
        raise RuntimeError("server did not become ready")

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def exited(self) -> int:
        assert self.proc is not None
        return await self.proc.wait()

    def report(self, lines: int = 40) -> str:
        """How the process stands and the last ``lines`` of its output file: printed by a test
        that fails, so that CI's log says why a process stopped answering."""
        status = "never started" if self.proc is None else f"exit status {self.proc.returncode}"
        if self.output is None or not self.output.exists():
            return f"{self.base_url}: {status}"
        tail = self.output.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join([f"{self.base_url} ({self.output.name}): {status}", *tail])

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


class WorkerProcess(ServerProcess):
    """``loopwright worker`` on a PostgreSQL database: no HTTP, ready once it has registered
    itself in ``workers`` (under ``executor_id``)."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str,
        executor_id: str,
        env: dict[str, str] | None = None,
        output: Path | None = None,
    ) -> None:
        super().__init__(
            data_dir,
            {
                **(env or {}),
                "LOOPWRIGHT_DATABASE_URL": database_url,
                "LOOPWRIGHT_EXECUTOR_ID": executor_id,
            },
            output,
        )
        self.database_url = database_url
        self.executor_id = executor_id

    async def start(self, **extra_env: str) -> None:
        import psycopg

        env = {
            **os.environ,
            "LOOPWRIGHT_OPERATOR_KEY": OPERATOR_KEY,
            "LOOPWRIGHT_CREATE_DEMO": "false",
            "LOOPWRIGHT_LOG_LEVEL": "warning",
            **self.env,
            **extra_env,
        }
        sink = None if self.output is None else self.output.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "loopwright",
            "worker",
            "--data-dir",
            str(self.data_dir),
            env=env,
            stdout=sink,
            stderr=sink,
        )
        if sink is not None:
            sink.close()
        STARTED.append(self)
        url = self.database_url.replace("+psycopg", "")
        deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_S
        while asyncio.get_running_loop().time() < deadline:
            if self.proc.returncode is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}")
            try:
                async with await psycopg.AsyncConnection.connect(url) as conn:
                    found = await conn.execute(
                        "SELECT 1 FROM workers WHERE executor_id = %s AND pid = %s",
                        (self.executor_id, self.proc.pid),
                    )
                    if await found.fetchone() is not None:
                        return
            except psycopg.errors.UndefinedTable:
                pass  # not migrated yet
            await asyncio.sleep(0.1)  # readiness poll of a starting process
        raise RuntimeError("worker did not become ready")

    def pause(self) -> None:
        """SIGSTOP: the process stops where it is, its connections open (a slow worker)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)
