"""The asynchronous client's triggers: schedules, inbound webhooks, completion-callback
deliveries and their signing secret, who may e-mail an agent, and an agent's mailbox.
``_sync_triggers.py`` is generated from this file by ``scripts/unasync_client.py``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from typing import Unpack

from loopwright.client._async_base import AsyncResource, query
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


class AsyncSchedules(AsyncResource):
    async def create(
        self, agent_id: str, cron: str, message: str, **fields: Unpack[ScheduleSettings]
    ) -> Schedule:
        body = {"agent_id": agent_id, "cron": cron, "message": message, **fields}
        path = f"{await self._c.store_path()}/schedules"
        return await self._c.call(Schedule, "POST", path, json=body)

    async def list(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Schedule]:
        path = f"{await self._c.store_path()}/schedules"
        params = query(limit=limit, cursor=cursor)
        return await self._c.call(Page[Schedule], "GET", path, params=params)

    async def get(self, schedule_id: str) -> Schedule:
        path = f"{await self._c.store_path()}/schedules/{schedule_id}"
        return await self._c.call(Schedule, "GET", path)

    async def update(self, schedule_id: str, **fields: Unpack[ScheduleFields]) -> Schedule:
        path = f"{await self._c.store_path()}/schedules/{schedule_id}"
        return await self._c.call(Schedule, "PATCH", path, json=fields)

    async def delete(self, schedule_id: str) -> None:
        await self._c.request("DELETE", f"{await self._c.store_path()}/schedules/{schedule_id}")

    async def pause(self, schedule_id: str) -> Schedule:
        path = f"{await self._c.store_path()}/schedules/{schedule_id}/pause"
        return await self._c.call(Schedule, "POST", path)

    async def resume(self, schedule_id: str) -> Schedule:
        """From the next due time after now."""
        path = f"{await self._c.store_path()}/schedules/{schedule_id}/resume"
        return await self._c.call(Schedule, "POST", path)

    async def fires(
        self, schedule_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[ScheduleFire]:
        path = f"{await self._c.store_path()}/schedules/{schedule_id}/fires"
        params = query(limit=limit, cursor=cursor)
        return await self._c.call(Page[ScheduleFire], "GET", path, params=params)

    async def preview(
        self, cron: str, *, timezone: str | None = None, count: int | None = None
    ) -> CronPreview:
        """The next fire times (UTC) of ``cron``, before saving a schedule."""
        body = {"cron": cron, **query(timezone=timezone, count=count)}
        path = f"{await self._c.store_path()}/cron-preview"
        return await self._c.call(CronPreview, "POST", path, json=body)


class AsyncWebhooks(AsyncResource):
    async def create(self, agent_id: str, **fields: Unpack[WebhookFields]) -> CreatedWebhook:
        body = {"agent_id": agent_id, **fields}
        path = f"{await self._c.store_path()}/webhooks"
        return await self._c.call(CreatedWebhook, "POST", path, json=body)

    async def list(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Webhook]:
        path = f"{await self._c.store_path()}/webhooks"
        params = query(limit=limit, cursor=cursor)
        return await self._c.call(Page[Webhook], "GET", path, params=params)

    async def get(self, webhook_id: str) -> Webhook:
        path = f"{await self._c.store_path()}/webhooks/{webhook_id}"
        return await self._c.call(Webhook, "GET", path)

    async def update(self, webhook_id: str, **fields: Unpack[WebhookFields]) -> Webhook:
        path = f"{await self._c.store_path()}/webhooks/{webhook_id}"
        return await self._c.call(Webhook, "PATCH", path, json=fields)

    async def delete(self, webhook_id: str) -> None:
        await self._c.request("DELETE", f"{await self._c.store_path()}/webhooks/{webhook_id}")

    async def receipts(
        self, webhook_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[WebhookReceipt]:
        path = f"{await self._c.store_path()}/webhooks/{webhook_id}/receipts"
        params = query(limit=limit, cursor=cursor)
        return await self._c.call(Page[WebhookReceipt], "GET", path, params=params)

    async def deliver(
        self, webhook_id: str, secret: str, body: bytes, *, message_id: str | None = None
    ) -> dict[str, str]:
        """Send ``body`` to the webhook as a sender would (``POST /hooks/{id}``, signed with
        ``secret``) → ``{run_id, session_id}``."""
        response = await self._c.request(
            "POST",
            f"/hooks/{webhook_id}",
            content=body,
            headers=webhook_headers(secret, body, message_id),
        )
        accepted: dict[str, str] = response.json()
        return accepted


class AsyncDeliveries(AsyncResource):
    async def list(
        self, *, run_id: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[Delivery]:
        path = f"{await self._c.store_path()}/deliveries"
        params = query(run_id=run_id, limit=limit, cursor=cursor)
        return await self._c.call(Page[Delivery], "GET", path, params=params)

    async def signing_secret(self) -> str:
        """The store's secret that signs completion callbacks (admin; made at its first use)."""
        path = f"{await self._c.store_path()}/signing-secret"
        return (await self._c.call(SigningSecret, "GET", path)).secret


class AsyncMail(AsyncResource):
    async def senders(self, agent_id: str) -> list[str]:
        """Who may e-mail the agent (addresses, or ``@domain``)."""
        path = f"{await self._c.store_path()}/agents/{agent_id}/mail-senders"
        return (await self._c.call(MailSenders, "GET", path)).senders

    async def set_senders(self, agent_id: str, senders: list[str]) -> list[str]:
        path = f"{await self._c.store_path()}/agents/{agent_id}/mail-senders"
        body = {"senders": senders}
        return (await self._c.call(MailSenders, "PUT", path, json=body)).senders

    async def send_to_mailbox(
        self, agent_id: str, content: str, *, priority: Priority | None = None
    ) -> SentMessage:
        """Put a message in the agent's mailbox (the sender ``api``) → its queued run."""
        path = f"{await self._c.store_path()}/agents/{agent_id}/mailbox"
        body = {"content": content, **query(priority=priority)}
        return await self._c.call(SentMessage, "POST", path, json=body)
