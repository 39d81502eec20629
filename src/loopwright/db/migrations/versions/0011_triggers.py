"""Triggers: schedules that fire once per due time, webhooks in, completion callbacks out

Schedules get a session policy (and the session they reuse), a missed-run policy and their
next due time (indexed: the scheduler's one question). A fire is a row unique by
``(schedule_id, due_at)``, committed with the run it started. Webhooks get a name, a message
template, a session policy and ``enabled``; every accepted ``webhook-id`` is a row unique per
webhook. Completion callbacks are an outbox (``deliveries``) with their attempt log; each
store has one signing secret for them. An agent may list who may e-mail it (`mail_senders`);
agents message agents through mailboxes (a session per receiver and sender) and
`agent_messages` (each message's depth and the call that sent it).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("schedules") as batch:
        batch.add_column(
            sa.Column("session_policy", sa.String(16), nullable=False, server_default="new")
        )
        batch.add_column(sa.Column("session_id", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("missed_policy", sa.String(16), nullable=False, server_default="skip")
        )
        batch.add_column(sa.Column("next_due_at", _TS, nullable=True))
        batch.create_index("ix_schedules_next_due_at", ["next_due_at"], unique=False)
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("name", sa.String(100), nullable=False, server_default=""))
        batch.add_column(sa.Column("template", sa.Text(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("session_policy", sa.String(16), nullable=False, server_default="new")
        )
        batch.add_column(sa.Column("session_id", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "schedule_fires",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("store_id", sa.String(64), nullable=False),
        sa.Column("schedule_id", sa.String(64), nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("fired_at", _TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name="fk_schedule_fires_schedule_id_schedules",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name="fk_schedule_fires_store_id_stores",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_schedule_fires"),
        sa.UniqueConstraint("schedule_id", "due_at", name="uq_schedule_fires_schedule_id"),
    )
    op.create_table(
        "webhook_receipts",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("store_id", sa.String(64), nullable=False),
        sa.Column("webhook_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(256), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("received_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name="fk_webhook_receipts_webhook_id_webhooks",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name="fk_webhook_receipts_store_id_stores",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_receipts"),
        sa.UniqueConstraint("webhook_id", "message_id", name="uq_webhook_receipts_webhook_id"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("store_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=True),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("attempts_log", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("delivered_at", _TS, nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name="fk_deliveries_store_id_stores", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
    )
    op.create_index("ix_deliveries_store_run", "deliveries", ["store_id", "run_id"])
    op.create_index("ix_deliveries_status_due", "deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "signing_keys",
        sa.Column("store_id", sa.String(64), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name="fk_signing_keys_store_id_stores", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("store_id", name="pk_signing_keys"),
    )
    op.create_table(
        "mail_senders",
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("store_id", sa.String(64), nullable=False),
        sa.Column("senders", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name="fk_mail_senders_agent_id_agents", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name="fk_mail_senders_store_id_stores", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", name="pk_mail_senders"),
    )
    op.create_index("ix_mail_senders_store_id", "mail_senders", ["store_id"])
    op.create_table(
        "mailboxes",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("store_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name="fk_mailboxes_agent_id_agents", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name="fk_mailboxes_store_id_stores", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_mailboxes"),
        sa.UniqueConstraint("agent_id", "sender", name="uq_mailboxes_agent_id"),
    )
    op.create_index("ix_mailboxes_store_id", "mailboxes", ["store_id"])
    op.create_table(
        "agent_messages",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("store_id", sa.String(64), nullable=False),
        sa.Column("from_run_id", sa.String(64), nullable=True),
        sa.Column("call_id", sa.String(128), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name="fk_agent_messages_store_id_stores",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name="pk_agent_messages"),
        sa.UniqueConstraint("from_run_id", "call_id", name="uq_agent_messages_from_run_id"),
    )
    op.create_index("ix_agent_messages_store_id", "agent_messages", ["store_id"])


def downgrade() -> None:
    op.drop_index("ix_agent_messages_store_id", table_name="agent_messages")
    op.drop_table("agent_messages")
    op.drop_index("ix_mailboxes_store_id", table_name="mailboxes")
    op.drop_table("mailboxes")
    op.drop_index("ix_mail_senders_store_id", table_name="mail_senders")
    op.drop_table("mail_senders")
    op.drop_table("signing_keys")
    op.drop_index("ix_deliveries_status_due", table_name="deliveries")
    op.drop_index("ix_deliveries_store_run", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("webhook_receipts")
    op.drop_table("schedule_fires")
    with op.batch_alter_table("webhooks") as batch:
        for column in ("enabled", "session_id", "session_policy", "template", "name"):
            batch.drop_column(column)
    with op.batch_alter_table("schedules") as batch:
        batch.drop_index("ix_schedules_next_due_at")
        for column in ("next_due_at", "missed_policy", "session_id", "session_policy"):
            batch.drop_column(column)
