"""The migrations build exactly the schema the models declare, on both databases, and the
latest one steps down and up again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from loopwright.db.migrate import alembic_config, upgrade
from loopwright.db.tables import Base
from loopwright.settings import sync_url


def _declared(name: str | None, kind: str, _parents: object) -> bool:
    """Full-text search lives beside the models, not in them: SQLite's FTS5 tables (and their
    shadow tables), PostgreSQL's ``tsvector`` indexes and memories' ``content_fts`` column
    (``db/fulltext.py``)."""
    return not (name and "_fts" in name and kind in ("table", "index", "column"))


def drift(url: str) -> list[object]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_name": _declared})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_the_migrated_schema_is_the_models_schema(
    database: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'app.db'}"
        if database == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    await asyncio.to_thread(upgrade, url)
    assert await asyncio.to_thread(drift, url) == []


def test_the_latest_migrations_step_down_and_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    config = alembic_config(url)
    command.downgrade(config, "-1")  # 0013: row-level security, nothing on SQLite
    command.downgrade(config, "-1")  # 0012: workers, runs.owner
    engine = create_engine(url)
    try:
        assert "workers" not in set(inspect(engine).get_table_names())
        assert "owner" not in {c["name"] for c in inspect(engine).get_columns("runs")}
    finally:
        engine.dispose()
    command.downgrade(config, "-1")  # 0011: triggers
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert not {"schedule_fires", "webhook_receipts", "deliveries", "signing_keys"} & tables
        assert "next_due_at" not in {c["name"] for c in inspect(engine).get_columns("schedules")}
    finally:
        engine.dispose()
    command.downgrade(config, "-1")  # 0010: guardrails
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert not {"usage_counters", "approvals"} & tables
        assert "approval" not in {c["name"] for c in inspect(engine).get_columns("agents")}
        assert "not_before" not in {c["name"] for c in inspect(engine).get_columns("runs")}
    finally:
        engine.dispose()
    command.downgrade(config, "-1")  # 0009: long-term memory, full-text search
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert not {t for t in tables if "_fts" in t}
        assert "shared" not in {c["name"] for c in inspect(engine).get_columns("memories")}
        assert "memories" not in {c["name"] for c in inspect(engine).get_columns("run_steps")}
    finally:
        engine.dispose()
    command.downgrade(config, "-1")  # 0008: observability, runs.trace
    engine = create_engine(url)
    try:
        assert "trace" not in {c["name"] for c in inspect(engine).get_columns("runs")}
    finally:
        engine.dispose()
    command.downgrade(config, "-1")
    engine = create_engine(url)
    try:
        names = {i["name"] for i in inspect(engine).get_indexes("plan_steps")}
        columns = {c["name"] for c in inspect(engine).get_columns("plan_steps")}
        assert not {"ix_plan_steps_plan_key", "ix_plan_steps_run_status"} & names
        assert not {"key", "run_id", "attempts"} & columns
        assert "team_step" not in {c["name"] for c in inspect(engine).get_columns("runs")}
        assert "executor_model" not in {c["name"] for c in inspect(engine).get_columns("agents")}
    finally:
        engine.dispose()
    command.downgrade(config, "-1")
    engine = create_engine(url)
    try:
        names = {i["name"] for i in inspect(engine).get_indexes("runs")}
        step_names = {i["name"] for i in inspect(engine).get_indexes("run_steps")}
        assert "ix_runs_store_created" not in names
        assert step_names == {"ix_run_steps_store_id"}
    finally:
        engine.dispose()
    command.downgrade(config, "-1")
    engine = create_engine(url)
    try:
        names = {i["name"] for i in inspect(engine).get_indexes("runs")}
        columns = {c["name"] for c in inspect(engine).get_columns("runs")}
        assert "ix_runs_parent_call" not in names
        assert not {"parent_call_id", "read_only"} & columns
    finally:
        engine.dispose()
    upgrade(url)
    assert drift(url) == []


def _policies(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text(
                    "SELECT tablename FROM pg_policies WHERE policyname = 'store_isolation' "
                    "UNION SELECT relname FROM pg_class WHERE relrowsecurity"
                )
            )
            return set(found.scalars())
    finally:
        engine.dispose()


def test_row_level_security_steps_down_and_up(own_pg_url: str) -> None:
    upgrade(own_pg_url)
    tenant_tables = {t.name for t in Base.metadata.sorted_tables if "store_id" in t.c}
    assert _policies(own_pg_url) == tenant_tables
    config = alembic_config(own_pg_url)
    command.downgrade(config, "-1")  # 0013: row-level security
    assert _policies(own_pg_url) == set()
    upgrade(own_pg_url)
    assert _policies(own_pg_url) == tenant_tables
