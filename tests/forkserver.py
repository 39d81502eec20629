"""A fork server for the tests' server processes: ``loopwright serve`` without the import.

Starting ``python -m loopwright serve`` spends ~4 s of CPU importing the server (FastAPI,
SQLAlchemy, DBOS, the model SDKs) before it opens a port; the suite starts dozens of them (kill -9
and restart, two processes on one database, supervisors). This process imports all of that once,
then forks a child per request; the child sets the request's environment, working directory and
output, and runs the same ``loopwright.cli.main()`` as ``python -m loopwright``. A child is a
real process with its own pid: SIGKILL, SIGTERM and its exit status are as for an exec'd one
(tests/procs.py ``ServerProcess`` uses either).

It is safe to fork because nothing here has started a thread, an event loop, a connection or a
file (checked before the first fork). Settings are read when the command runs (pydantic-settings
reads the ``LOOPWRIGHT_*`` variables then), not at import; a request whose environment differs
from this process's in anything else (say ``PROMETHEUS_MULTIPROC_DIR``, read by prometheus-client
at import) is refused and the caller execs instead.

Protocol, over a Unix socket (one connection per child): the client sends one JSON line
``{"args", "env", "cwd"}`` with two descriptors (the child's stdout and stderr); the server answers
``{"pid"}`` and, once the child has exited, ``{"returncode"}`` (negative: killed by that signal).
The server exits when its stdin closes (the test process ended).

    python -m tests.forkserver SOCKET_PATH
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import selectors
import signal
import socket
import sys
import threading
from typing import Any

IMPORT_ENV_EXEMPT = ("LOOPWRIGHT_", "PYTEST_")
"""Environment variables read when the server starts (its settings), or never (pytest's name of
the current test), not when it is imported: a child may differ from the fork server in these."""


def forkable(env: dict[str, str], base: dict[str, str]) -> bool:
    """Whether a child with ``env`` can be forked from a process imported under ``base``."""
    keys = set(env) | set(base)
    return all(env.get(k) == base.get(k) for k in keys if not k.startswith(IMPORT_ENV_EXEMPT))


def _preload() -> None:
    """What ``loopwright serve`` imports (lazily, inside the command) before it serves."""
    import uvicorn  # noqa: F401

    import loopwright.bootstrap
    import loopwright.cli
    import loopwright.server.app
    import loopwright.server.logs
    import loopwright.server.supervisor  # noqa: F401


def _serve(listener: socket.socket) -> dict[str, Any]:
    """Accept requests and fork; returns only in a child, with its request."""
    children: dict[int, socket.socket] = {}
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd is written
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_r, selectors.EVENT_READ, "child")
    selector.register(sys.stdin, selectors.EVENT_READ, "stdin")
    while True:
        for key, _ in selector.select():
            if key.data == "stdin":
                if not os.read(sys.stdin.fileno(), 4096):  # the test process is gone
                    for pid in children:  # and its servers with it (a crashed test process's
                        with contextlib.suppress(ProcessLookupError):  # held connections)
                            os.kill(pid, signal.SIGKILL)
                    path = listener.getsockname()
                    os.unlink(path)
                    os.rmdir(os.path.dirname(path))
                    raise SystemExit(0)
            elif key.data == "child":
                os.read(wake_r, 4096)
                _reap(children)
            else:
                conn, _ = listener.accept()
                data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 2)
                while not data.endswith(b"\n"):
                    more = conn.recv(1 << 16)
                    if not more:
                        break
                    data += more
                request = json.loads(data)
                pid = os.fork()
                if pid == 0:
                    _die_with_parent()
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    selector.close()
                    listener.close()
                    for other in children.values():
                        other.close()
                    conn.close()
                    devnull = os.open(os.devnull, os.O_RDONLY)
                    os.dup2(devnull, 0)
                    os.dup2(fds[0], 1)
                    os.dup2(fds[1], 2)
                    os.closerange(3, 65536)
                    return dict(request)
                for fd in fds:
                    os.close(fd)
                conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
                children[pid] = conn
                _reap(children)


def _die_with_parent() -> None:
    """A child is killed if this fork server dies (killed itself, it could not kill them)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _reap(children: dict[int, socket.socket]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is not None:
            code = os.waitstatus_to_exitcode(status)
            with contextlib.suppress(OSError):  # the client may have stopped listening
                conn.sendall(json.dumps({"returncode": code}).encode() + b"\n")
            conn.close()


def main() -> None:
    path = sys.argv[1]
    _preload()
    if threading.active_count() != 1:
        raise SystemExit(f"refusing to fork: threads after import: {threading.enumerate()}")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    print("ready", flush=True)
    request = _serve(listener)
    # The child: from here on it is `python -m loopwright <args>` in the request's environment.
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = ["loopwright", *request["args"]]
    from loopwright.cli import main as loopwright_main

    loopwright_main()


if __name__ == "__main__":
    main()
