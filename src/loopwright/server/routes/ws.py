"""The event log over a WebSocket; a client may also send ``chat.message_sent`` on it.

Close codes, each after an error frame: 4401 no, bad or deleted key; 4404 store not found (or
another store's); 4422 bad query (filters, cursor); 1011 internal error. Inbound frames:
``{"type": "chat.message_sent", "session_id", "content", "priority"?, "request_id"?}`` answered
by ``{"type": "ack", ...}`` or ``{"type": "error", "request_id", "error": {...}}``; a frame that
is not one gets an error frame and the socket stays open (``ws_frames``). The key is checked
again before a frame is acted on, and the socket is closed once the key is deleted
(``key_watch``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.types import Message

from loopwright.db.repos import tenancy
from loopwright.domain.events import EventFilter
from loopwright.errors import LoopwrightError, Unauthenticated
from loopwright.events.follow import follow
from loopwright.runtime.submit import Submission
from loopwright.server.auth import Principal, admit, resolve
from loopwright.server.errors import error_body
from loopwright.server.key_watch import until_revoked
from loopwright.server.routes.events import parse_filter, parse_seq
from loopwright.server.routes.ws_frames import UnreadableFrame, read_frame
from loopwright.server.schemas.common import Input
from loopwright.server.schemas.conversations import MessageCreate
from loopwright.server.services import Services
from loopwright.telemetry import metrics

router = APIRouter(tags=["events"])
log = logging.getLogger("loopwright.server")

_CLOSE_CODES = {401: 4401, 403: 4403, 404: 4404, 422: 4422}
INTERNAL_ERROR = 1011


class InboundMessage(Input):
    type: Literal["chat.message_sent"]
    session_id: str
    content: str
    priority: str = "normal"
    request_id: str | None = None


@router.websocket("/v1/stores/{store_id}/ws")
async def websocket_events(websocket: WebSocket, store_id: str) -> None:
    svc: Services = websocket.app.state.services
    await websocket.accept()
    token = _presented_key(websocket)
    try:
        await _authenticate(svc, token, store_id)
        q = websocket.query_params
        where = parse_filter(
            q.get("session_id"), q.get("run_id"), q.get("types"), q.get("parent_run_id")
        )
        after = q.get("after")
        cursor = 0 if after is None else parse_seq(after, {"query": "after"})
    except LoopwrightError as exc:
        await _close(websocket, exc)
        return
    await _Connection(websocket, svc, store_id, token).serve(where, cursor)


def _presented_key(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    key = token.strip() if scheme.lower() == "bearer" else websocket.query_params.get("token")
    return key or None


async def _authenticate(svc: Services, token: str | None, store_id: str) -> None:
    if token is None:
        raise Unauthenticated("missing API key (Authorization header or ?token=)")
    admit(await resolve(svc, token), store_id, "readonly")
    async with svc.db.read(store_id) as session:
        await tenancy.get_store(session, store_id)


async def _close(websocket: WebSocket, exc: LoopwrightError) -> None:
    """An error frame, then the close code for it (the client may be gone already)."""
    code = INTERNAL_ERROR if exc.status == 500 else _CLOSE_CODES.get(exc.status, 4400)
    try:
        await websocket.send_json(_error(None, error_body(exc.code, exc.message, exc.details)))
        await websocket.close(code=code, reason=exc.code)
    except (WebSocketDisconnect, RuntimeError):
        pass


def _error(request_id: Any, body: dict[str, Any]) -> dict[str, Any]:
    return {"type": "error", "request_id": request_id, **body}


@dataclass
class _Connection:
    """An accepted socket: events out, messages in, and a watch on its key."""

    websocket: WebSocket
    svc: Services
    store_id: str
    token: str | None

    async def serve(self, where: EventFilter, cursor: int) -> None:
        tasks = (  # the first one to finish says why the socket ends
            asyncio.create_task(self._answer_frames()),
            asyncio.create_task(self._watch_key()),
            asyncio.create_task(self._send_events(where, cursor)),
        )
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        ending = next(_ending(task) for task in tasks if not task.cancelled())
        if ending is not None:
            await _close(self.websocket, ending)

    async def _send_events(self, where: EventFilter, cursor: int) -> None:
        svc = self.svc
        with metrics.subscriber("websocket"):
            async for event in follow(
                svc.db, svc.hub, self.store_id, cursor, where, poll_s=svc.settings.event_poll_s
            ):
                await self.websocket.send_json(event.to_public())

    async def _watch_key(self) -> Unauthenticated:
        await until_revoked(self.svc, self.token)
        return _key_deleted()

    async def _answer_frames(self) -> Unauthenticated | None:
        """Answer each frame until the client leaves (None) or its key is gone."""
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return None
            try:
                principal = await resolve(self.svc, self.token)
            except Unauthenticated:
                return _key_deleted()
            # Shielded: a message being accepted is accepted whole, even if the socket closes.
            reply = await asyncio.shield(self._answer(principal, message))
            await self.websocket.send_json(reply)

    async def _answer(self, principal: Principal, message: Message) -> dict[str, Any]:
        request_id = None
        try:
            frame = read_frame(message, self.svc.settings.max_body_bytes)
            request_id = frame.get("request_id")
            inbound = InboundMessage.model_validate(frame)
            admit(principal, self.store_id, "member")
            body = MessageCreate.model_validate(
                {"content": inbound.content, "priority": inbound.priority}
            )
            submitted = await self.svc.runtime.submit(
                Submission(
                    self.store_id,
                    inbound.session_id,
                    body.content,
                    priority=body.priority,
                    trigger="websocket",
                )
            )
        except UnreadableFrame as exc:
            return _error(None, exc.reply)
        except ValidationError as exc:
            problems = [{"loc": list(e["loc"]), "message": e["msg"]} for e in exc.errors()]
            return _error(
                request_id, error_body("validation_error", "frame failed validation", problems)
            )
        except LoopwrightError as exc:
            return _error(request_id, error_body(exc.code, exc.message, exc.details))
        return {
            "type": "ack",
            "request_id": request_id,
            "message_id": submitted.message.id,
            "run_id": submitted.run.id,
        }


def _key_deleted() -> Unauthenticated:
    return Unauthenticated("the API key was deleted")


def _ending(task: asyncio.Task[Any]) -> LoopwrightError | None:
    """What a finished task of a socket says: an error to close with, or None (the client
    left)."""
    error = task.exception()
    if error is None:
        result: LoopwrightError | None = task.result()
        return result
    if isinstance(error, WebSocketDisconnect):
        return None
    log.error("a store's WebSocket failed", exc_info=error)
    return LoopwrightError("internal server error")
