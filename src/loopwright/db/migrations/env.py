"""Alembic environment: runs migrations on a synchronous connection to the app database."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from loopwright.db.tables import Base

MIGRATION_LOCK = 0x1007_17E5  # PostgreSQL advisory lock: one migrator at a time


def _sqlite_wal(dbapi_connection, _record):  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def run() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_engine(url, poolclass=NullPool)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_wal)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_lock({MIGRATION_LOCK})"))
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
            connection.commit()
    engine.dispose()


run()
