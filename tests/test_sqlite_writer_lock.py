"""Writers of one SQLite file in different processes queue on a ``flock`` waited for off the
event loop. "Another process" here is a second ``WriterLock`` on the same file: ``flock``
excludes other open files of the same process as it does other processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from loopwright.db.database import Database
from loopwright.db.migrate import upgrade
from loopwright.db.repos import tenancy
from loopwright.db.row_security import ALL_STORES
from loopwright.db.sqlite_writer_lock import WriterLock


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    await asyncio.to_thread(upgrade, url)
    database = Database(url)
    yield database
    await database.dispose()


def other_process(tmp_path: Path, timeout_s: float = 5) -> WriterLock:
    return WriterLock(str(tmp_path / "app.db"), timeout_s)


async def create_store(db: Database, store_id: str) -> None:
    async with db.write(ALL_STORES) as session:
        await tenancy.create_store(session, store_id, store_id)


async def test_a_write_waits_for_another_processs_writer_without_blocking_the_loop(
    db: Database, tmp_path: Path
) -> None:
    other = other_process(tmp_path)
    async with other:
        write = asyncio.create_task(create_store(db, "waits"))
        # The holder runs on this same loop: had the write blocked the loop while waiting,
        # this wait would never return and the holder never release.
        done, _ = await asyncio.wait([write], timeout=0.2)
        assert not done  # it waits for the other writer
    await asyncio.wait_for(write, 5)  # and goes on once the other writer is done
    other.close()


async def test_a_writer_cancelled_while_waiting_leaves_the_lock_free(
    db: Database, tmp_path: Path
) -> None:
    other = other_process(tmp_path)
    async with other:
        write = asyncio.create_task(create_store(db, "cancelled"))
        await asyncio.wait([write], timeout=0.2)
        write.cancel()
        with pytest.raises(asyncio.CancelledError):
            await write
    # The cancelled waiter's thread took the lock after the release, and gave it back:
    # another process can write again.
    async with other_process(tmp_path):
        pass
    other.close()


async def test_a_writer_gives_up_after_its_timeout(tmp_path: Path) -> None:
    (tmp_path / "app.db").touch()
    holder, impatient = other_process(tmp_path), other_process(tmp_path, timeout_s=0.05)
    async with holder:
        with pytest.raises(TimeoutError):
            async with impatient:
                pass
    async with impatient:  # free again: the timed-out wait did not keep it
        pass
    holder.close()
    impatient.close()
