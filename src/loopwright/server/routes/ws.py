"""The event log over a WebSocket; a client may also send ``chat.message_sent`` on it.

Close codes: 4401 no or bad key, 4404 store not found (or another store's), 4422 bad query.
Inbound frames: ``{"type": "chat.message_sent", "session_id", "content", "priority"?,
"request_id"?}`` answered by ``{"type": "ack", ...}`` or ``{"type": "error", "error": {...}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from loopwright.db.repos import tenancy
from loopwright.errors import LoopwrightError, NotFound, Unauthenticated
from loopwright.events.follow import follow
from loopwright.runtime.submit import Submission
from loopwright.server.auth import Principal, admit, resolve
from loopwright.server.errors import error_body
from loopwright.server.routes.events import parse_cursor, parse_filter
from loopwright.server.schemas.common import Input
from loopwright.server.schemas.conversations import MessageCreate
from loopwright.server.services import Services

router = APIRouter(tags=["events"])

_CLOSE_CODES = {401: 4401, 403: 4403, 404: 4404, 422: 4422}


class InboundMessage(Input):
    type: str
    session_id: str
    content: str
    priority: str = "normal"
    request_id: str | None = None


@router.websocket("/v1/stores/{store_id}/ws")
async def websocket_events(websocket: WebSocket, store_id: str) -> None:
    svc: Services = websocket.app.state.services
    await websocket.accept()
    try:
        principal = await _authenticate(websocket, svc, store_id)
        q = websocket.query_params
        where = parse_filter(q.get("session_id"), q.get("run_id"), q.get("types"))
        after = q.get("after")
        cursor = parse_cursor(None, after) if after is not None else 0
    except LoopwrightError as exc:
        await websocket.send_json(error_body(exc.code, exc.message, exc.details))
        await websocket.close(code=_CLOSE_CODES.get(exc.status, 4400), reason=exc.code)
        return

    async def pump() -> None:
        async for event in follow(
            svc.db, svc.hub, store_id, cursor, where, poll_s=svc.settings.event_poll_s
        ):
            await websocket.send_json(event.to_public())

    sender = asyncio.create_task(pump())
    try:
        while True:
            frame = await websocket.receive_json()
            await websocket.send_json(await _handle_inbound(svc, principal, store_id, frame))
    except WebSocketDisconnect:
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await sender


async def _authenticate(websocket: WebSocket, svc: Services, store_id: str) -> Principal:
    header = websocket.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    key = token.strip() if scheme.lower() == "bearer" else websocket.query_params.get("token")
    if not key:
        raise Unauthenticated("missing API key (Authorization header or ?token=)")
    principal = await resolve(svc, key)
    admit(principal, store_id, "readonly")
    async with svc.db.read() as session:
        await tenancy.get_store(session, store_id)
    return principal


async def _handle_inbound(
    svc: Services, principal: Principal, store_id: str, frame: Any
) -> dict[str, Any]:
    request_id = frame.get("request_id") if isinstance(frame, dict) else None
    try:
        inbound = InboundMessage.model_validate(frame)
        if inbound.type != "chat.message_sent":
            raise NotFound(f"unknown frame type {inbound.type!r}", details={"type": inbound.type})
        admit(principal, store_id, "member")
        body = MessageCreate.model_validate(
            {"content": inbound.content, "priority": inbound.priority}
        )
        submitted = await svc.runtime.submit(
            Submission(
                store_id,
                inbound.session_id,
                body.content,
                priority=body.priority,
                trigger="websocket",
            )
        )
    except ValidationError as exc:
        problems = [{"loc": list(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return {
            "type": "error",
            "request_id": request_id,
            **error_body("validation_error", "frame failed validation", problems),
        }
    except LoopwrightError as exc:
        return {
            "type": "error",
            "request_id": request_id,
            **error_body(exc.code, exc.message, exc.details),
        }
    return {
        "type": "ack",
        "request_id": request_id,
        "message_id": submitted.message.id,
        "run_id": submitted.run.id,
    }
