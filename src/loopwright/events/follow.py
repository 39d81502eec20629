"""Follow a store's log from a cursor: the backlog, then live events, nothing missed or repeated.

The reader subscribes to the hub *before* reading the backlog and tracks ``covered``, the
highest seq up to which it has seen (or filtered out) every event. The hub hands it only the
events its filter wants; it takes one as long as the hub vouches for the gap before it (every
seq in between went through the hub, so the filter refused them). Any other gap (another
process appended, the hub queue overflowed) sends it back to the log. So does a quiet
``poll_s`` in which the store's high-water moved past what the hub vouches for (another
process appended); the high-water is shared through the hub, so quiet readers of one store
look at the log about once per ``poll_s`` between them, not once each.
Ephemeral events (token deltas) have no seq and pass straight through.
"""

from __future__ import annotations

import asyncio
import enum
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
                events, upto = await _page(db, hub, store_id, covered, where)
                for event in events:
                    yield event
                if len(events) < PAGE:
                    covered = max(covered, upto)
                    break
                covered = events[-1].seq or covered
            # From the hub: as long as it continues the sequence exactly.
            while (live := await _next_live(sub, poll_s)) is not _Signal.LOST:
                if live is _Signal.QUIET:
                    caught_up = await _caught_up(db, hub, sub, covered, poll_s)
                    if caught_up is None:
                        break
                    covered = caught_up
                elif live.seq is None:
                    yield live
                elif live.seq <= covered:
                    continue
                elif live.seq == covered + 1 or hub.published(store_id, covered + 1, live.seq):
                    covered = live.seq
                    yield live
                else:
                    break


async def _page(
    db: Database, hub: EventHub, store_id: str, after: int, where: EventFilter
) -> tuple[list[Event], int]:
    async with db.read() as session:
        upto = await log.high_water(session, store_id)
        hub.note_high_water(store_id, upto)
        if upto <= after:
            return [], upto
        return await log.read_range(session, store_id, after, upto, where, PAGE), upto


async def _caught_up(
    db: Database, hub: EventHub, sub: Subscription, covered: int, max_age_s: float
) -> int | None:
    """After a quiet wait: how far the reader has seen everything, or None if it must read
    the log. Up to the store's high-water when every event up to it went through the hub
    (offered to this reader, which subscribed before it read its backlog) and the reader has
    taken all it was offered: an event still queued (it can arrive as the wait times out)
    must not be passed over."""
    store_id = sub.store_id
    upto = hub.recent_high_water(store_id, max_age_s)
    if upto is None:
        async with db.read() as session:
            upto = await log.high_water(session, store_id)
        hub.note_high_water(store_id, upto)
    if upto <= covered or not sub.queue.empty():
        return covered
    if hub.published(store_id, covered + 1, upto):
        return upto
    return None


class _Signal(enum.Enum):
    QUIET = "quiet"  # nothing arrived within poll_s
    LOST = "lost"  # the subscription's queue overflowed: events were dropped


async def _next_live(sub: Subscription, poll_s: float) -> Event | _Signal:
    """The next hub event, or why there is none."""
    try:
        event = await asyncio.wait_for(sub.queue.get(), timeout=poll_s)
    except TimeoutError:
        if sub.queue.empty():
            return _Signal.QUIET
        event = sub.queue.get_nowait()  # it arrived as the wait timed out
    if sub.overflowed:
        sub.overflowed = False
        while not sub.queue.empty():
            sub.queue.get_nowait()
        return _Signal.LOST
    return event
