"""Where webhook senders POST: no API key, a Standard Webhooks signature instead."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from loopwright.errors import PayloadTooLarge
from loopwright.runtime import inbound
from loopwright.server.auth import ServicesDep
from loopwright.server.openapi import declared
from loopwright.server.schemas.triggers import WebhookAccepted

router = APIRouter(prefix="/hooks", tags=["webhooks"])


@router.post(
    "/{webhook_id}",
    status_code=202,
    response_model=WebhookAccepted,
    responses={
        **declared(401, "The signature is missing or wrong, or the timestamp is stale."),
        **declared(409, "This `webhook-id` was accepted before (a replay)."),
        **declared(413, "The body is over `LOOPWRIGHT_WEBHOOK_MAX_BYTES`."),
    },
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": {}}},
            "description": "any body, signed; a template turns JSON into the message",
        }
    },
)
async def receive_webhook(webhook_id: str, request: Request, svc: ServicesDep) -> JSONResponse:
    """A message to the webhook's agent (trigger `webhook`), accepted once per `webhook-id`."""
    limit = svc.settings.webhook_max_bytes
    declared_length = request.headers.get("content-length", "")
    if declared_length.isdigit() and int(declared_length) > limit:
        raise PayloadTooLarge(f"webhook bodies are limited to {limit} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"webhook bodies are limited to {limit} bytes")
    accepted = await inbound.accept(
        svc.db,
        svc.runtime.submit,
        svc.runtime.secrets,
        webhook_id,
        body,
        dict(request.headers),
        max_bytes=limit,
    )
    out = WebhookAccepted(run_id=accepted.run_id, session_id=accepted.session_id)
    return JSONResponse(out.model_dump(), status_code=202)
