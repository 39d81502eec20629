"""Crash injection for the durability tests: ``LOOPWRIGHT_FAILPOINT=<name>`` makes the process
SIGKILL itself when it reaches that point (``hit``), so a test can kill a worker at the exact
worst moment (for example after a tool's transaction committed, before its step was
recorded), or raises there (``fail``), as a defect or a database outage would."""

from __future__ import annotations

import os
import signal

_armed: str | None = None


def arm(name: str | None) -> None:
    global _armed
    _armed = name


def hit(name: str) -> None:
    if _armed == name:
        os.kill(os.getpid(), signal.SIGKILL)


class FailpointError(Exception):
    pass


def fail(name: str) -> None:
    if _armed == name:
        raise FailpointError(name)
