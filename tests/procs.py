"""A Loopwright server in its own process, for tests that kill it or need a second database."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx

OPERATOR_KEY = "operator-test-key"
READY_TIMEOUT_S = 120  # importing the server takes ~25 s on two cores shared with other work


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


STARTED: list[ServerProcess] = []
"""Every server started by a test, so a fixture can stop the ones a failing test left."""


class ServerProcess:
    def __init__(
        self, data_dir: Path, env: dict[str, str] | None = None, output: Path | None = None
    ) -> None:
        """``output``: a file for the process's stdout and stderr (default: the test's own)."""
        self.data_dir = data_dir
        self.env = env or {}
        self.output = output
        self.proc: asyncio.subprocess.Process | None = None
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
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "loopwright",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
            env=env,
            stdout=sink,
            stderr=sink,
        )
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
