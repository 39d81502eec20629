"""The asynchronous client's event log: pages, and streams that resume after a dropped
connection. ``_sync_events.py`` is generated from this file by ``scripts/unasync_client.py``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

from loopwright.client._async_base import AsyncResource, query
from loopwright.client.errors import (
    ClientError,
    ServerError,
    TransportFailed,
    error_from_response,
    stream_closed,
)
from loopwright.client.events import RUN_ENDS, Event, EventPage, parse_event, parse_event_object
from loopwright.client.sse import FrameParser

_NO_MATCH = "loopwright.client.none"
"""A ``types`` filter no event has: a page of it is empty and its ``next_after`` is the head."""


class AsyncEvents(AsyncResource):
    reconnect_delay_s: float = 0.2
    """First wait before reconnecting a dropped stream; doubles per failure, at most 5 s."""
    max_failures: int = 10
    """Failed connection attempts in a row before the stream raises ``TransportFailed``."""
    read_timeout_s: float = 60.0
    """A stream silent this long (the server sends heartbeats) is taken as dropped."""

    async def list(
        self,
        *,
        after: int | None = None,
        session_id: str | None = None,
        run_id: str | None = None,
        parent_run_id: str | None = None,
        types: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> EventPage:
        params = query(
            after=after,
            session_id=session_id,
            run_id=run_id,
            parent_run_id=parent_run_id,
            types=types,
            limit=limit,
        )
        response = await self._c.request(
            "GET", f"{await self._c.store_path()}/events", params=params
        )
        body = response.json()
        items = [parse_event_object(item) for item in body["items"]]
        return EventPage.model_construct(items=items, next_after=body["next_after"])

    async def head(self, *, session_id: str | None = None) -> int:
        """The store's newest seq: ``stream(after=head)`` follows only what comes next."""
        page = await self.list(session_id=session_id, types=[_NO_MATCH], limit=1)
        return page.next_after

    async def open(
        self,
        *,
        after: int | None = None,
        session_id: str | None = None,
        run_id: str | None = None,
        parent_run_id: str | None = None,
        types: Sequence[str] | None = None,
    ) -> httpx.Response:
        """An open SSE response (its frames not read yet); the caller closes it."""
        params = query(
            after=after,
            session_id=session_id,
            run_id=run_id,
            parent_run_id=parent_run_id,
            types=types,
        )
        timeout = httpx.Timeout(10.0, read=self.read_timeout_s)
        request = self._c.http.build_request(
            "GET",
            f"{await self._c.store_path()}/events",
            params=params,
            headers={"Accept": "text/event-stream"},
            timeout=timeout,
        )
        try:
            response = await self._c.http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise TransportFailed(f"event stream: {exc!r}") from exc
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            raise error_from_response(response)
        return response

    async def stream(
        self,
        *,
        after: int | None = None,
        session_id: str | None = None,
        run_id: str | None = None,
        parent_run_id: str | None = None,
        types: Sequence[str] | None = None,
        opened: httpx.Response | None = None,
    ) -> AsyncIterator[Event]:
        """The events after ``after`` (None: from the store's first), then live ones, for as
        long as the caller reads. A dropped connection is reopened after the last seq seen:
        every stored event comes once, in order (token deltas sent while it was down are lost;
        each step's ``llm.response_received`` has its whole text)."""
        filters: dict[str, Any] = {
            "session_id": session_id,
            "run_id": run_id,
            "parent_run_id": parent_run_id,
            "types": types,
        }
        cursor = after
        failures = 0
        while True:
            try:
                response = opened or await self.open(after=cursor, **filters)
                opened = None
                try:
                    parser = FrameParser()
                    async for line in response.aiter_lines():
                        frame = parser.feed(line)
                        if frame is None:
                            continue
                        if frame.event == "stream.closed":
                            raise stream_closed(frame.data)
                        event = parse_event(frame.data)
                        failures = 0
                        if event.seq is not None:
                            if cursor is not None and event.seq <= cursor:
                                continue
                            cursor = event.seq
                        yield event
                finally:
                    await response.aclose()
            except (httpx.TransportError, TransportFailed, ServerError) as exc:
                failures += 1
                if failures > self.max_failures:
                    if isinstance(exc, ClientError):
                        raise
                    raise TransportFailed(f"event stream: {exc!r}") from exc
            await asyncio.sleep(min(self.reconnect_delay_s * 2 ** max(failures - 1, 0), 5.0))

    async def run_events(
        self,
        run_id: str,
        after: int | None,
        session_id: str | None = None,
        opened: httpx.Response | None = None,
    ) -> AsyncIterator[Event]:
        """A run's events from ``after`` until (and with) its ``run.completed``, ``run.failed``
        or ``run.cancelled``."""
        filters = {"session_id": session_id} if session_id else {"run_id": run_id}
        async for event in self.stream(after=after, opened=opened, **filters):
            if event.run_id != run_id:
                continue
            yield event
            if event.type in RUN_ENDS:
                return
