"""GENERATED from ``_async_triggers.py`` by ``scripts/unasync_client.py``: do not edit; edit
``_async_triggers.py`` and run the script. (The synchronous twin of the async client.)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from typing import Unpack

from loopwright.client._sync_base import Resource, query
from loopwright.client.models import (
    CreatedWebhook,
    CronPreview,
    Delivery,
    MailSenders,
    Page,
    Priority,
    Schedule,
    ScheduleFields,
    ScheduleFire,
    ScheduleSettings,
    SentMessage,
    SigningSecret,
    Webhook,
    WebhookFields,
    WebhookReceipt,
)


def webhook_headers(secret: str, body: bytes, message_id: str | None = None) -> dict[str, str]:
    """The Standard Webhooks headers that sign ``body`` with ``secret`` (``whsec_…``)."""
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    stamp = str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{stamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": stamp,
        "webhook-signature": f"v1,{signature}",
        "content-type": "application/json",
    }


class Schedules(Resource):
    def create(
        self, agent_id: str, cron: str, message: str, **fields: Unpack[ScheduleSettings]
    ) -> Schedule:
        body = {"agent_id": agent_id, "cron": cron, "message": message, **fields}
        path = f"{self._c.store_path()}/schedules"
        return self._c.call(Schedule, "POST", path, json=body)

    def list(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Schedule]:
        path = f"{self._c.store_path()}/schedules"
        params = query(limit=limit, cursor=cursor)
        return self._c.call(Page[Schedule], "GET", path, params=params)

    def get(self, schedule_id: str) -> Schedule:
        path = f"{self._c.store_path()}/schedules/{schedule_id}"
        return self._c.call(Schedule, "GET", path)

    def update(self, schedule_id: str, **fields: Unpack[ScheduleFields]) -> Schedule:
        path = f"{self._c.store_path()}/schedules/{schedule_id}"
        return self._c.call(Schedule, "PATCH", path, json=fields)

    def delete(self, schedule_id: str) -> None:
        self._c.request("DELETE", f"{self._c.store_path()}/schedules/{schedule_id}")

    def pause(self, schedule_id: str) -> Schedule:
        path = f"{self._c.store_path()}/schedules/{schedule_id}/pause"
        return self._c.call(Schedule, "POST", path)

    def resume(self, schedule_id: str) -> Schedule:
        """From the next due time after now."""
        path = f"{self._c.store_path()}/schedules/{schedule_id}/resume"
        return self._c.call(Schedule, "POST", path)

    def fires(
        self, schedule_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[ScheduleFire]:
        path = f"{self._c.store_path()}/schedules/{schedule_id}/fires"
        params = query(limit=limit, cursor=cursor)
        return self._c.call(Page[ScheduleFire], "GET", path, params=params)

    def preview(
        self, cron: str, *, timezone: str | None = None, count: int | None = None
    ) -> CronPreview:
        """The next fire times (UTC) of ``cron``, before saving a schedule."""
        body = {"cron": cron, **query(timezone=timezone, count=count)}
        path = f"{self._c.store_path()}/cron-preview"
        return self._c.call(CronPreview, "POST", path, json=body)


class Webhooks(Resource):
    def create(self, agent_id: str, **fields: Unpack[WebhookFields]) -> CreatedWebhook:
        body = {"agent_id": agent_id, **fields}
        path = f"{self._c.store_path()}/webhooks"
        return self._c.call(CreatedWebhook, "POST", path, json=body)

    def list(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Webhook]:
        path = f"{self._c.store_path()}/webhooks"
        params = query(limit=limit, cursor=cursor)
        return self._c.call(Page[Webhook], "GET", path, params=params)

    def get(self, webhook_id: str) -> Webhook:
        path = f"{self._c.store_path()}/webhooks/{webhook_id}"
        return self._c.call(Webhook, "GET", path)

    def update(self, webhook_id: str, **fields: Unpack[WebhookFields]) -> Webhook:
        path = f"{self._c.store_path()}/webhooks/{webhook_id}"
        return self._c.call(Webhook, "PATCH", path, json=fields)

    def delete(self, webhook_id: str) -> None:
        self._c.request("DELETE", f"{self._c.store_path()}/webhooks/{webhook_id}")

    def receipts(
        self, webhook_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[WebhookReceipt]:
        path = f"{self._c.store_path()}/webhooks/{webhook_id}/receipts"
        params = query(limit=limit, cursor=cursor)
        return self._c.call(Page[WebhookReceipt], "GET", path, params=params)

    def deliver(
        self, webhook_id: str, secret: str, body: bytes, *, message_id: str | None = None
    ) -> dict[str, str]:
        """Send ``body`` to the webhook as a sender would (``POST /hooks/{id}``, signed with
        ``secret``) → ``{run_id, session_id}``."""
        response = self._c.request(
            "POST",
            f"/hooks/{webhook_id}",
            content=body,
            headers=webhook_headers(secret, body, message_id),
        )
        accepted: dict[str, str] = response.json()
        return accepted


class Deliveries(Resource):
    def list(
        self, *, run_id: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[Delivery]:
        path = f"{self._c.store_path()}/deliveries"
        params = query(run_id=run_id, limit=limit, cursor=cursor)
        return self._c.call(Page[Delivery], "GET", path, params=params)

    def signing_secret(self) -> str:
        """The store's secret that signs completion callbacks (admin; made at its first use)."""
        path = f"{self._c.store_path()}/signing-secret"
        return (self._c.call(SigningSecret, "GET", path)).secret


class Mail(Resource):
    def senders(self, agent_id: str) -> list[str]:
        """Who may e-mail the agent (addresses, or ``@domain``)."""
        path = f"{self._c.store_path()}/agents/{agent_id}/mail-senders"
        return (self._c.call(MailSenders, "GET", path)).senders

    def set_senders(self, agent_id: str, senders: list[str]) -> list[str]:
        path = f"{self._c.store_path()}/agents/{agent_id}/mail-senders"
        body = {"senders": senders}
        return (self._c.call(MailSenders, "PUT", path, json=body)).senders

    def send_to_mailbox(
        self, agent_id: str, content: str, *, priority: Priority | None = None
    ) -> SentMessage:
        """Put a message in the agent's mailbox (the sender ``api``) → its queued run."""
        path = f"{self._c.store_path()}/agents/{agent_id}/mailbox"
        body = {"content": content, **query(priority=priority)}
        return self._c.call(SentMessage, "POST", path, json=body)
