"""The SQLite file's writer lock across processes, waited for off the event loop.

SQLite's own lock is taken by ``BEGIN IMMEDIATE``; a process that finds it held waits in
SQLite's busy handler, which sleeps on the thread that called it: the event loop, for
milliseconds at a time. With several server processes on one file that was a sixth of the
loop's time. So writers first take an exclusive ``flock`` on a file beside the database: at
once when it is free (two system calls per transaction), otherwise in a worker thread, which
the kernel wakes the moment the holder releases it, while the loop goes on. ``BEGIN
IMMEDIATE`` then finds SQLite's lock free, except against a writer that does not take this
lock (a migration, an outside tool), which the busy timeout still covers. The kernel drops
a dead process's ``flock``.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from types import TracebackType


class WriterLock:
    def __init__(self, database_path: str, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._fd = os.open(f"{database_path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)

    async def __aenter__(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass  # another process is writing: wait for it in a thread
        taken = asyncio.get_running_loop().run_in_executor(
            None, fcntl.flock, self._fd, fcntl.LOCK_EX
        )
        try:
            await asyncio.wait_for(asyncio.shield(taken), self.timeout_s)
        except BaseException:
            taken.add_done_callback(self._release_if_taken)  # the thread may take it later
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)

    def _release_if_taken(self, taken: asyncio.Future[None]) -> None:
        if not taken.cancelled() and taken.exception() is None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
