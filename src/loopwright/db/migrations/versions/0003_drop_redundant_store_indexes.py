"""Drop single-column store_id indexes that a composite index starting with store_id covers

sessions (store_id, agent_id), runs (store_id, session_id), messages (store_id, session_id,
id) and tool_calls (store_id, created_at) each already lead with store_id: the lone index
served no query and cost a page write on every insert.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 04:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("sessions", "runs", "messages", "tool_calls")


def upgrade() -> None:
    for table in _TABLES:
        op.drop_index(f"ix_{table}_store_id", table_name=table)


def downgrade() -> None:
    for table in _TABLES:
        op.create_index(f"ix_{table}_store_id", table, ["store_id"])
