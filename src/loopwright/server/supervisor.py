"""``serve --processes N``: N server processes on one port, each an API server and a worker.

One process runs on one core (the GIL); a run is CPU-bound on the process that runs it. The
supervisor binds the port once and starts N children that accept on the inherited socket
(``serve --fd``), each with its own event loop, DBOS executor and relay socket: a message is
run by the process that took its request, and the relay (``events/relay.py``) shows every
run's events to the readers of every process. The first child starts alone, so the database
and DBOS migrations run once, then the others start; each tells the supervisor through a
pipe when it has started, and the supervisor prints ``all N processes ready``. A child that
dies is started again with the same index, hence the same DBOS executor id: it recovers its
own runs. A child that keeps dying at start-up stops the server. SIGTERM or SIGINT stops the
children and then the supervisor."""

from __future__ import annotations

import ctypes
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from loopwright.settings import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus-client when it is imported

READY_TIMEOUT_S = 120.0
WATCH_S = 0.2
QUICK_DEATH_S = 5.0  # a child that dies sooner than this after its start failed to start
QUICK_DEATHS_ALLOWED = 3
STOP_TIMEOUT_S = 20.0


@dataclass
class _Child:
    index: int
    proc: subprocess.Popen[bytes]
    started: float
    ready: int  # the read end of the pipe the child writes a byte to once it has started
    is_ready: bool = False

    def close_ready(self) -> None:
        if self.ready >= 0:
            os.close(self.ready)
            self.ready = -1


class Supervisor:
    def __init__(self, settings: Settings, *, run_worker: bool) -> None:
        self.settings = settings
        self.run_worker = run_worker
        self.children: dict[int, _Child] = {}
        self.port = settings.port
        self._stopping = False
        self._quick_deaths = 0

    def run(self) -> int:
        """Serve until told to stop; the exit code."""
        sock = _listen(self.settings.host, self.settings.port)
        self.port = int(sock.getsockname()[1])
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        made_metrics_dir = _metrics_dir()
        try:
            self._start(0, sock)
            if not self._wait_ready(range(1)):
                return 1
            for index in range(1, self.settings.processes):
                self._start(index, sock)
            return self._watch(sock)
        finally:
            self._stop_children()
            sock.close()
            if made_metrics_dir is not None:
                shutil.rmtree(made_metrics_dir, ignore_errors=True)

    def _start(self, index: int, sock: socket.socket) -> None:
        env = {
            **os.environ,
            "LOOPWRIGHT_PROCESS_INDEX": str(index),
            "LOOPWRIGHT_PROCESSES": str(self.settings.processes),
            "LOOPWRIGHT_DATA_DIR": str(self.settings.data_dir),
            "LOOPWRIGHT_HOST": self.settings.host,
            "LOOPWRIGHT_PORT": str(self.port),
            # the first process makes it, if it is wanted: it starts alone
            "LOOPWRIGHT_CREATE_DEMO": str(self.settings.create_demo and index == 0).lower(),
        }
        if self.settings.database_url:
            env["LOOPWRIGHT_DATABASE_URL"] = self.settings.database_url
        ready_read, ready_write = os.pipe()
        cmd = [sys.executable, "-m", "loopwright", "serve", "--fd", str(sock.fileno())]
        cmd += ["--ready-fd", str(ready_write)]
        if not self.run_worker:
            cmd.append("--no-worker")
        proc = subprocess.Popen(
            cmd,
            env=env,
            pass_fds=(sock.fileno(), ready_write),
            preexec_fn=_stop_with_parent,
        )
        os.close(ready_write)
        self.children[index] = _Child(index, proc, time.monotonic(), ready_read)

    def _wait_ready(self, indexes: range) -> bool:
        """Until each of these children says it has started; False if one exits first."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        waiting = [self.children[i] for i in indexes]
        while time.monotonic() < deadline and not self._stopping:
            self._take_ready_signals()
            if any(child.proc.poll() is not None for child in waiting):
                return False
            if all(child.is_ready for child in waiting):
                return True
        return False

    def _take_ready_signals(self) -> None:
        """Wait up to ``WATCH_S`` for children to say they have started."""
        pending = {child.ready: child for child in self.children.values() if child.ready >= 0}
        if not pending:
            time.sleep(WATCH_S)
            return
        readable, _, _ = select.select(list(pending), [], [], WATCH_S)
        for fd in readable:
            child = pending[fd]
            child.is_ready = os.read(fd, 1) == b"1"  # b"": it exited before it was ready
            child.close_ready()

    def _watch(self, sock: socket.socket) -> int:
        announced = False
        while not self._stopping:
            self._take_ready_signals()
            if not announced and all(child.is_ready for child in self.children.values()):
                print(f"all {self.settings.processes} processes ready", flush=True)
                announced = True
            for child in list(self.children.values()):
                code = child.proc.poll()
                if code is None or self._stopping:
                    continue
                child.close_ready()
                _forget_metrics_of(child.proc.pid)
                if time.monotonic() - child.started < QUICK_DEATH_S:
                    self._quick_deaths += 1
                    if self._quick_deaths >= QUICK_DEATHS_ALLOWED:
                        print(
                            f"loopwright: process {child.index} keeps exiting (code {code});"
                            " stopping",
                            file=sys.stderr,
                        )
                        return 1
                else:
                    self._quick_deaths = 0
                print(
                    f"loopwright: process {child.index} exited with {code}; starting it again",
                    file=sys.stderr,
                )
                self._start(child.index, sock)
        return 0

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def _stop_children(self) -> None:
        for child in self.children.values():
            if child.proc.poll() is None:
                child.proc.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in self.children.values():
            try:
                child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
            child.close_ready()


def _metrics_dir() -> str | None:
    """The directory the children write their metrics to (prometheus-client's multiprocess
    mode), so that one scrape of any child reads the whole server: a new one for this server
    (returned, to be removed at exit), or the operator's ``PROMETHEUS_MULTIPROC_DIR`` emptied
    of an earlier server's files."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        for old in Path(given).glob("*.db"):
            old.unlink(missing_ok=True)
        return None
    made = tempfile.mkdtemp(prefix="loopwright-metrics-")
    os.environ[MULTIPROC_ENV] = made  # the children inherit it
    return made


def _forget_metrics_of(pid: int) -> None:
    """A dead child's live gauges (open streams, breaker states) no longer count."""
    from loopwright.telemetry.metrics import process_dead

    process_dead(pid)


def inherited_socket(fd: int) -> socket.socket:
    """The supervisor's listening socket in a child, with its real family and protocol, read
    from the descriptor. (uvicorn's own ``--fd`` calls every descriptor a Unix socket, so
    asyncio leaves Nagle's algorithm on for its TCP connections: with delayed ACKs, a stream
    of small SSE writes stalled 40 ms at a time.)"""
    return socket.socket(fileno=fd)


def signal_ready(fd: int) -> None:
    """In the child, once the app has started: tell the supervisor."""
    os.write(fd, b"1")
    os.close(fd)


def _stop_with_parent() -> None:
    """In the child before it runs: SIGTERM it when the supervisor dies, even by SIGKILL,
    so no process goes on serving the port unsupervised (Linux; elsewhere nothing)."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
