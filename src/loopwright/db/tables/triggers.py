"""What the triggers record: schedule fires, webhook deliveries received, completion callbacks
to deliver (an outbox) and each store's signing secret for them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loopwright.db.tables.base import Base, created_column, id_column, store_column


class ScheduleFireRow(Base):
    """One due time of a schedule, claimed once: ``(schedule_id, due_at)`` is unique, and the
    row commits with the run it started (or records why none started)."""

    __tablename__ = "schedule_fires"
    __table_args__ = (UniqueConstraint("schedule_id", "due_at"),)

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column(indexed=False)
    schedule_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("schedules.id", ondelete="CASCADE")
    )
    due_at: Mapped[datetime]
    fired_at: Mapped[datetime] = created_column()
    status: Mapped[str] = mapped_column(String(16))  # started | skipped | failed
    run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    session_id: Mapped[str | None] = mapped_column(String(64), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class WebhookReceiptRow(Base):
    """A webhook message accepted: its ``webhook-id`` is unique per webhook, so a replay finds
    it and is refused."""

    __tablename__ = "webhook_receipts"
    __table_args__ = (UniqueConstraint("webhook_id", "message_id"),)

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column(indexed=False)
    webhook_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("webhooks.id", ondelete="CASCADE")
    )
    message_id: Mapped[str] = mapped_column(String(256))
    run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    received_at: Mapped[datetime] = created_column()


class DeliveryRow(Base):
    """A completion callback: written with the run's message, sent once the run ends, retried
    with backoff until delivered or out of attempts. ``attempts_log`` is the delivery log."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_store_run", "store_id", "run_id"),
        Index("ix_deliveries_status_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column(indexed=False)
    run_id: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    """``waiting`` (the run goes on), ``pending`` (to send), ``delivered``, ``failed``."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    attempts_log: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = created_column()
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """A ``mailto:`` reply's thread: ``{message_id, subject, from}``."""


class SigningKeyRow(Base):
    """The store's secret that signs its completion callbacks (Standard Webhooks)."""

    __tablename__ = "signing_keys"

    store_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True
    )
    secret_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()


class MailSendersRow(Base):
    """Who may e-mail an agent: addresses (``ana@example.com``) or domains
    (``@example.com``); no row, or an empty list, lets no one."""

    __tablename__ = "mail_senders"

    agent_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    store_id: Mapped[str] = store_column()
    senders: Mapped[list[str]] = mapped_column(default=list)


class MailboxRow(Base):
    """An agent's conversation with one sender (another agent, or ``api``): the session its
    messages go to, so they are processed one at a time."""

    __tablename__ = "mailboxes"
    __table_args__ = (UniqueConstraint("agent_id", "sender"),)

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    agent_id: Mapped[str] = mapped_column(String(64), ForeignKey("agents.id", ondelete="CASCADE"))
    sender: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(64))


class AgentMessageRow(Base):
    """A run started by an agent's ``send_message`` (or the API): how deep in a chain of
    agents it is, and the call that sent it (unique: a replayed call sends nothing again)."""

    __tablename__ = "agent_messages"
    __table_args__ = (UniqueConstraint("from_run_id", "call_id"),)

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    store_id: Mapped[str] = store_column()
    from_run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    call_id: Mapped[str | None] = mapped_column(String(128), default=None)
    depth: Mapped[int] = mapped_column(Integer, default=1)
