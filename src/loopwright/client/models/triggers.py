"""Schedules, webhooks and their deliveries, e-mail senders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .base import Model


class Schedule(Model):
    id: str
    agent_id: str
    cron: str
    timezone: str
    message: str
    session_policy: str
    session_id: str | None
    missed_policy: str
    enabled: bool
    next_due_at: datetime | None
    last_run_at: datetime | None
    created_at: datetime


class ScheduleFire(Model):
    id: str
    schedule_id: str
    due_at: datetime
    fired_at: datetime
    status: str
    run_id: str | None
    session_id: str | None
    error: str | None


class CronPreview(Model):
    times: list[datetime]


class Webhook(Model):
    id: str
    agent_id: str
    name: str
    template: str
    session_policy: str
    enabled: bool
    url: str
    created_at: datetime


class CreatedWebhook(Webhook):
    secret: str
    """The signing secret (``whsec_…``): shown only in this answer."""


class WebhookReceipt(Model):
    id: str
    webhook_id: str
    message_id: str
    run_id: str | None
    received_at: datetime


class Delivery(Model):
    id: str
    run_id: str
    url: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    attempts_log: list[dict[str, Any]]
    created_at: datetime
    delivered_at: datetime | None


class SigningSecret(Model):
    secret: str


class MailSenders(Model):
    senders: list[str]
