"""DBOS's SQLite system database runs as the app database does: WAL with
``synchronous=NORMAL`` (no fsync per commit), and no pre-ping statement per checkout."""

from __future__ import annotations

from dbos import _dbos
from sqlalchemy import text

from tests.conftest import Live


async def test_the_sqlite_system_database_commits_without_an_fsync_each(live: Live) -> None:
    instance = _dbos._dbos_global_instance
    assert instance is not None
    engine = instance._sys_db.engine
    assert engine.dialect.name == "sqlite"
    assert engine.pool._pre_ping is False
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
