"""The event log over HTTP: a JSON page, or Server-Sent Events that resume from a cursor."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from sse_starlette import EventSourceResponse

from loopwright.domain.events import Event, EventFilter
from loopwright.errors import NotFound, ValidationFailed
from loopwright.events import log
from loopwright.events.follow import follow
from loopwright.server.auth import Reader, ServicesDep, bearer_token
from loopwright.server.errors import error_body
from loopwright.server.key_watch import cut_short, until_revoked
from loopwright.server.schemas.events import EVENTS_DESCRIPTION, EVENTS_RESPONSES
from loopwright.telemetry import metrics

router = APIRouter(prefix="/v1/stores/{store_id}", tags=["events"])

KEY_REVOKED = error_body("unauthenticated", "the API key was deleted")
"""The last frame of a stream whose key was deleted while it was open."""


def parse_filter(
    session_id: str | None,
    run_id: str | None,
    types: str | None,
    parent_run_id: str | None = None,
) -> EventFilter:
    wanted = None
    if types:
        wanted = frozenset(t.strip() for t in types.split(",") if t.strip())
        if not wanted:
            raise ValidationFailed("types is empty", details={"field": "types"})
    return EventFilter(
        session_id=session_id, run_id=run_id, types=wanted, parent_run_id=parent_run_id
    )


MAX_SEQ = 2**63 - 1
"""The largest seq a cursor may name: seqs are signed 64-bit integers in the database."""

SEQ_PATTERN = r"^[0-9]{1,19}$"
_SEQ = re.compile(SEQ_PATTERN)


def parse_seq(text: str, source: dict[str, str]) -> int:
    """A cursor sent as text (a header, a WebSocket query): decimal digits, 0 to ``MAX_SEQ``.

    ``source`` names where it came from, for the error's details."""
    if _SEQ.fullmatch(text) is None or int(text) > MAX_SEQ:
        raise ValidationFailed(
            f"an event cursor is a seq: an integer from 0 to {MAX_SEQ}", details=source
        )
    return int(text)


def parse_cursor(after: int | None, last_event_id: str | None) -> int:
    """``Last-Event-ID`` (sent by a reconnecting EventSource) wins over ``?after=``."""
    if last_event_id is not None and last_event_id.strip():
        return parse_seq(last_event_id.strip(), {"header": "Last-Event-ID"})
    return after or 0


def sse_frame(event: Event) -> dict[str, Any]:
    frame: dict[str, Any] = {"event": event.type, "data": json.dumps(event.to_public())}
    if event.seq is not None:
        frame["id"] = str(event.seq)
    return frame


@router.get(
    "/events",
    response_model=None,
    responses=EVENTS_RESPONSES,
    description=EVENTS_DESCRIPTION,
)
async def events(
    request: Request,
    access: Reader,
    svc: ServicesDep,
    after: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
    session_id: Annotated[str | None, Query(max_length=64)] = None,
    run_id: Annotated[str | None, Query(max_length=64)] = None,
    parent_run_id: Annotated[str | None, Query(max_length=64)] = None,
    types: Annotated[str | None, Query(max_length=2000)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            pattern=SEQ_PATTERN,
            description=f"resume after this seq (0 to {MAX_SEQ}); wins over `after`",
        ),
    ] = None,
) -> Response:
    where = parse_filter(session_id, run_id, types, parent_run_id)
    cursor = parse_cursor(after, last_event_id)
    if "text/event-stream" not in request.headers.get("accept", ""):
        async with svc.db.read(access.store_id) as session:  # NotFound: no such store
            items, upto = await log.read_to_high_water(
                session, access.store_id, cursor, where, limit
            )
        next_after = items[-1].seq if len(items) == limit and items[-1].seq else upto
        next_after = max(next_after, cursor)
        return JSONResponse({"items": [e.to_public() for e in items], "next_after": next_after})
    if access.principal.is_operator:  # any store id: 404 before a stream starts
        async with svc.db.read(access.store_id) as session:
            await log.high_water(session, access.store_id)
    # A store key's store exists: deleting a store deletes its keys. One deleted as the
    # stream opens ends it with ``stream.closed`` (below), as its key's deletion would.

    token = bearer_token(request)

    async def frames() -> AsyncIterator[dict[str, Any]]:
        revoked = asyncio.ensure_future(until_revoked(svc, token))
        try:
            with metrics.subscriber("sse"):
                events = follow(
                    svc.db,
                    svc.hub,
                    access.store_id,
                    cursor,
                    where,
                    poll_s=svc.settings.event_poll_s,
                )
                try:
                    async for event in cut_short(events, revoked):
                        yield sse_frame(event)
                except NotFound as gone:
                    body = error_body("not_found", gone.message, gone.details)
                    yield {"event": "stream.closed", "data": json.dumps(body)}
                    return
            revoked.result()  # the key is gone (a watch that failed raises here)
        finally:
            revoked.cancel()
        yield {"event": "stream.closed", "data": json.dumps(KEY_REVOKED)}

    return EventSourceResponse(
        frames(),
        ping=int(max(1, svc.settings.sse_heartbeat_s)),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
