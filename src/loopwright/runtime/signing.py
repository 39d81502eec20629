"""Standard Webhooks signatures (https://www.standardwebhooks.com), through the reference
``standardwebhooks`` package: ``webhook-id``, ``webhook-timestamp`` (within 5 minutes of
now) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``)."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from loopwright.errors import Unauthenticated


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def headers(secret: str, message_id: str, timestamp: datetime, body: bytes) -> dict[str, str]:
    """The three headers that sign ``body``."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, timestamp, body),
    }


def verify(secret: str, body: bytes, received: dict[str, str]) -> str:
    """The message id of a correctly signed, fresh message; 401 with the reason otherwise."""
    try:
        Webhook(secret).verify(body, received, json_parse=False)
    except WebhookVerificationError as exc:
        raise Unauthenticated(f"webhook signature refused: {exc}") from exc
    return received["webhook-id"]
