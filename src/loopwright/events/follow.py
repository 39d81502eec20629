"""Follow a store's log from a cursor: the backlog, then live events, nothing missed or repeated.

The reader subscribes to the hub *before* reading the backlog and tracks ``covered``, the
highest seq up to which it has seen (or filtered out) every event. The hub hands it only the
events its filter wants; it takes one as long as the hub vouches for the gap before it (every
seq in between went through the hub, so the filter refused them). Any other gap (another
process appended, the hub queue overflowed) or a quiet ``poll_s`` sends it back to the log.
Ephemeral events (token deltas) have no seq and pass straight through.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from loopwright.db.database import Database
from loopwright.domain.events import Event, EventFilter
from loopwright.events import log
from loopwright.events.hub import EventHub, Subscription

PAGE = 500


async def follow(
    db: Database,
    hub: EventHub,
    store_id: str,
    after: int,
    where: EventFilter,
    *,
    poll_s: float,
) -> AsyncIterator[Event]:
    with hub.subscribe(store_id, where) as sub:
        covered = after
        while True:
            # From the log: every committed event after ``covered``.
            while True:
                events, upto = await _page(db, store_id, covered, where)
                for event in events:
                    yield event
                if len(events) < PAGE:
                    covered = max(covered, upto)
                    break
                covered = events[-1].seq or covered
            # From the hub: as long as it continues the sequence exactly.
            while (live := await _next_live(sub, poll_s)) is not None:
                if live.seq is None:
                    yield live
                elif live.seq <= covered:
                    continue
                elif live.seq == covered + 1 or hub.published(store_id, covered + 1, live.seq):
                    covered = live.seq
                    yield live
                else:
                    break


async def _page(
    db: Database, store_id: str, after: int, where: EventFilter
) -> tuple[list[Event], int]:
    async with db.read() as session:
        upto = await log.high_water(session, store_id)
        if upto <= after:
            return [], upto
        return await log.read_range(session, store_id, after, upto, where, PAGE), upto


async def _next_live(sub: Subscription, poll_s: float) -> Event | None:
    """The next hub event, or None when the reader must look at the log."""
    try:
        event = await asyncio.wait_for(sub.queue.get(), timeout=poll_s)
    except TimeoutError:
        return None
    if sub.overflowed:
        sub.overflowed = False
        while not sub.queue.empty():
            sub.queue.get_nowait()
        return None
    return event
