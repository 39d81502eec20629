"""Long-term memory: memories and suggestions filled in, full-text search

Memories get ``shared`` (store-wide), their source (``manual``, ``tool``, ``suggestion`` with
run and message ids), ``superseded_by_id``/``superseded_at`` (kept, marked), and an embedding
(a JSON list of floats with the model that made it). Suggestions get their reason, source
messages, the reflection run, and the memory they repeat or contradict. Agents get a memory
token budget and an idle time after which a session is reflected on; sessions remember the
last message reflected on; a run's first step records the memories it was given.

Full-text search: on SQLite one FTS5 table per searched table (``<table>_fts``: the row id
unindexed and the searched columns, porter stemming), kept by triggers; on PostgreSQL a GIN
index over the same columns' English ``tsvector`` (for memories, ranked on every retrieval, a
stored generated column ``content_fts``, so ranking does not compute it again per row).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> searched columns (kept in step with ``db/fulltext.py``)
SEARCHED = {
    "memories": ("content",),
    "projects": ("name", "description"),
    "tasks": ("title", "description"),
    "documents": ("title", "content"),
}


def _sqlite_fts(table: str, columns: tuple[str, ...]) -> list[str]:
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    fts = f"{table}_fts"
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5(id UNINDEXED, {cols}, "
        "tokenize='porter unicode61 remove_diacritics 2')",
        f"INSERT INTO {fts} (id, {cols}) SELECT id, {cols} FROM {table}",
        f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts} (id, {cols}) VALUES (new.id, {new}); END",
        f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN "
        f"DELETE FROM {fts} WHERE id = old.id; END",
        f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {cols} ON {table} BEGIN "
        f"DELETE FROM {fts} WHERE id = old.id; "
        f"INSERT INTO {fts} (id, {cols}) VALUES (new.id, {new}); END",
    ]


def _pg_vector(columns: tuple[str, ...]) -> str:
    joined = " || ' ' || ".join(f"coalesce({c}, '')" for c in columns)
    return f"to_tsvector('english'::regconfig, {joined})"


def upgrade() -> None:
    with op.batch_alter_table("memories") as batch:
        batch.add_column(
            sa.Column("shared", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("source", sa.String(16), nullable=False, server_default="manual")
        )
        batch.add_column(sa.Column("source_run_id", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column(
                "source_message_ids", sa.JSON(), nullable=False, server_default=sa.text("'[]'")
            )
        )
        batch.add_column(sa.Column("superseded_by_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("embedding", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("embedding_model", sa.String(200), nullable=True))
        batch.create_index("ix_memories_store_agent", ["store_id", "agent_id"], unique=False)
        batch.create_index("ix_memories_store_type", ["store_id", "type"], unique=False)
    with op.batch_alter_table("memory_suggestions") as batch:
        batch.add_column(sa.Column("reason", sa.Text(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column(
                "source_message_ids", sa.JSON(), nullable=False, server_default=sa.text("'[]'")
            )
        )
        batch.add_column(sa.Column("run_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("relation", sa.String(16), nullable=False, server_default="new"))
        batch.add_column(sa.Column("existing_memory_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("memory_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(
            "ix_memory_suggestions_store_status", ["store_id", "status"], unique=False
        )
    with op.batch_alter_table("agents") as batch:
        batch.add_column(
            sa.Column("memory_budget_tokens", sa.Integer(), nullable=False, server_default="500")
        )
        batch.add_column(sa.Column("reflect_idle_s", sa.Integer(), nullable=True))
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("reflected_to", sa.String(64), nullable=True))
    with op.batch_alter_table("run_steps") as batch:
        batch.add_column(sa.Column("memories", sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        for table, columns in SEARCHED.items():
            for statement in _sqlite_fts(table, columns):
                op.execute(statement)
    else:
        for table, columns in SEARCHED.items():
            if table == "memories":  # ranked on every retrieval: the vector is stored
                op.execute(
                    "ALTER TABLE memories ADD COLUMN content_fts tsvector GENERATED ALWAYS AS "
                    f"({_pg_vector(columns)}) STORED"
                )
                op.execute("CREATE INDEX ix_memories_fts ON memories USING gin (content_fts)")
                continue
            op.execute(f"CREATE INDEX ix_{table}_fts ON {table} USING gin ({_pg_vector(columns)})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in SEARCHED:
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {table}_fts")
    else:
        for table in SEARCHED:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_fts")
        op.execute("ALTER TABLE memories DROP COLUMN IF EXISTS content_fts")
    with op.batch_alter_table("run_steps") as batch:
        batch.drop_column("memories")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("reflected_to")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("reflect_idle_s")
        batch.drop_column("memory_budget_tokens")
    with op.batch_alter_table("memory_suggestions") as batch:
        batch.drop_index("ix_memory_suggestions_store_status")
        for column in (
            "decided_at",
            "memory_id",
            "existing_memory_id",
            "relation",
            "run_id",
            "source_message_ids",
            "reason",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("memories") as batch:
        batch.drop_index("ix_memories_store_type")
        batch.drop_index("ix_memories_store_agent")
        for column in (
            "embedding_model",
            "embedding",
            "superseded_at",
            "superseded_by_id",
            "source_message_ids",
            "source_run_id",
            "source",
            "shared",
        ):
            batch.drop_column(column)
