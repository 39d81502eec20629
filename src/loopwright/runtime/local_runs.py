"""The runs this process is executing and their model and tool calls in flight, so a cancel
can interrupt a call at once and keep a run from starting another."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from loopwright.engine.types import Cancelled

T = TypeVar("T")


class LocalRuns:
    def __init__(self) -> None:
        self._running: set[str] = set()
        self._tasks: dict[str, set[asyncio.Task[Any]]] = {}
        self._cancelled: set[str] = set()
        self._waiters: dict[str, asyncio.Event] = {}

    def begin(self, run_id: str) -> None:
        self._running.add(run_id)

    def running(self) -> list[str]:
        return list(self._running)

    def is_running(self, run_id: str) -> bool:
        return run_id in self._running

    async def guard(self, run_id: str, work: Coroutine[Any, Any, T]) -> T:
        if run_id in self._cancelled:
            work.close()
            raise Cancelled(run_id)
        task = asyncio.ensure_future(work)
        self._tasks.setdefault(run_id, set()).add(task)
        try:
            return await task
        except asyncio.CancelledError:
            if task.cancelled() and run_id in self._cancelled:
                raise Cancelled(run_id) from None
            raise
        finally:
            tasks = self._tasks.get(run_id)
            if tasks is not None:
                tasks.discard(task)
                if not tasks:
                    del self._tasks[run_id]

    def cancel(self, run_id: str) -> None:
        self._cancelled.add(run_id)
        for task in self._tasks.get(run_id, ()):
            task.cancel()

    def waiter(self, run_id: str) -> asyncio.Event:
        """Set when this process admits the run again (a parked parent whose workflow waits
        here); ``forget`` drops it."""
        return self._waiters.setdefault(run_id, asyncio.Event())

    def wake(self, run_id: str) -> bool:
        """Wake the run's parked workflow if it waits in this process."""
        waiter = self._waiters.get(run_id)
        if waiter is None:
            return False
        waiter.set()
        return True

    def forget(self, run_id: str) -> None:
        """The run ended here."""
        self._running.discard(run_id)
        self._cancelled.discard(run_id)
        self._waiters.pop(run_id, None)
