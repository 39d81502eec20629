"""WAL checkpoints on a thread of their own, not on the event loop.

By default SQLite checkpoints inside the commit that grows the WAL past 1000 pages: that
commit copies the pages back into the database file and syncs it, a few milliseconds on the
loop thread every dozen turns (a third of all commit time measured here, and the commits' p99).
The server's connections turn that off (``wal_autocheckpoint=0``) and this thread runs a
``PASSIVE`` checkpoint every ``interval_s``: it copies what no reader still needs, never waits
for readers or writers, and releases the GIL while it does I/O. Other processes on the file
(the CLI) keep SQLite's automatic checkpoints. ``journal_size_limit`` on the writers truncates
the WAL after a burst, so the file does not stay at its largest size.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading

logger = logging.getLogger("loopwright.db")

JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024


def checkpoint(connection: sqlite3.Connection) -> tuple[int, int]:
    """One passive checkpoint: (frames in the WAL, frames now in the database file)."""
    _, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(frames), int(copied)


class Checkpointer:
    def __init__(self, path: str, interval_s: float = 0.25) -> None:
        self._path = path
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA busy_timeout=1000")
            while not self._stop.wait(self._interval_s):
                try:
                    checkpoint(connection)
                except sqlite3.Error:  # a busy moment: the next round checkpoints
                    logger.debug("WAL checkpoint skipped", exc_info=True)
            with contextlib.suppress(sqlite3.Error):  # leave a short WAL behind
                checkpoint(connection)
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
