"""Follow a store's log from a cursor: the backlog, then live events, nothing missed or repeated.

The reader subscribes to the hub *before* reading the backlog and tracks ``covered``, the
highest seq up to which it has seen (or filtered out) every event. The hub hands it only the
events its filter wants; it takes one as long as the hub vouches for the gap before it (every
seq in between went through the hub, so the filter refused them). An event that arrives ahead
of a gap waits up to the hub's ``reorder_s`` for the gap to fill (peer processes' events are
relayed, and may arrive late); a gap that stays open (a process that does not relay appended,
the hub queue overflowed) sends the reader back to the log. So does a quiet ``poll_s`` in which
the store's high-water moved past what the hub vouches for; the high-water is shared through
the hub, so quiet readers of one store look at the log about once per ``poll_s`` between them,
not once each. Ephemeral events (token deltas) have no seq; they keep their place behind the
events that arrived before them."""

from __future__ import annotations

import asyncio
import enum
import heapq
from collections.abc import AsyncGenerator

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
) -> AsyncGenerator[Event, None]:
    with hub.subscribe(store_id, where) as sub:
        if where.parent_run_id is not None:
            # after subscribing: a child queued since is seen by ``matches``, and every
            # event before this read is in the log the first page reads
            async with db.read(store_id) as session:
                where.children.update(await log.children_of(session, store_id, where.parent_run_id))
        covered = after
        held: list[Event] = []  # token deltas held back when the reader went to the log
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
            for event in held:
                yield event
            # From the hub: as long as it continues the sequence.
            order = _InOrder(hub, store_id, covered)
            while True:
                waiting = order.waiting()
                live = await _next_live(sub, hub.reorder_s if waiting else poll_s)
                if live is _Signal.LOST:
                    break
                if isinstance(live, Event):
                    order.add(live)
                while not sub.queue.empty():  # all that arrived, before releasing any
                    order.add(sub.queue.get_nowait())
                for event in order.release():
                    yield event
                covered = order.covered
                if live is _Signal.QUIET:
                    if waiting:
                        break  # a gap no peer filled in time: the log has it
                    caught_up = await _caught_up(db, hub, sub, covered, poll_s)
                    if caught_up is None:
                        break
                    covered = order.covered = caught_up
            held = order.ephemeral()


class _InOrder:
    """One reader's hub events, released in seq order.

    Events can reach the hub out of order (a peer process's commits, relayed; PostgreSQL
    commits racing to publish). One that arrives ahead of a gap waits here until every seq in
    the gap went through the hub; the reader has by then been handed each of them its filter
    wants, so releasing in seq order misses nothing. A token delta (no seq) keeps its place
    behind the events that arrived before it. The caller adds everything queued before it
    releases, so nothing the hub vouches for is still in the queue."""

    def __init__(self, hub: EventHub, store_id: str, covered: int) -> None:
        self.hub = hub
        self.store_id = store_id
        self.covered = covered
        self._arrived = covered  # the highest seq added
        self._heap: list[tuple[float, int, Event]] = []
        self._count = 0

    def add(self, event: Event) -> None:
        if event.seq is None:
            key = self._arrived + 0.5
        else:
            key = event.seq
            self._arrived = max(self._arrived, event.seq)
        heapq.heappush(self._heap, (key, self._count, event))
        self._count += 1

    def waiting(self) -> bool:
        """Whether an event waits for a gap before it to fill."""
        return bool(self._heap)

    def release(self) -> list[Event]:
        out: list[Event] = []
        heap = self._heap
        while heap:
            key, _, event = heap[0]
            seq = event.seq
            if seq is None:
                if key > self.covered + 0.5:
                    break  # behind an event still waiting
            elif seq > self.covered:
                if seq != self.covered + 1 and not self.hub.published(
                    self.store_id, self.covered + 1, seq
                ):
                    break
                self.covered = seq
            else:
                heapq.heappop(heap)  # already seen
                continue
            heapq.heappop(heap)
            out.append(event)
        return out

    def ephemeral(self) -> list[Event]:
        """The token deltas still held, in order, when the reader goes to the log (which has
        every persisted event held with them)."""
        return [event for _, _, event in sorted(self._heap) if event.seq is None]


async def _page(
    db: Database, hub: EventHub, store_id: str, after: int, where: EventFilter
) -> tuple[list[Event], int]:
    async with db.read(store_id) as session:
        events, upto = await log.read_to_high_water(session, store_id, after, where, PAGE)
    hub.note_high_water(store_id, upto)
    return events, upto


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
        async with db.read(store_id) as session:
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
    """The next hub event, or why there is none. One already queued is taken at once, and a
    wait is a timer on the reader's own task (``asyncio.wait_for`` would start a task per
    event)."""
    if sub.queue.empty():
        try:
            async with asyncio.timeout(poll_s):
                event = await sub.queue.get()
        except TimeoutError:
            if sub.queue.empty():
                return _Signal.QUIET
            event = sub.queue.get_nowait()  # it arrived as the wait timed out
    else:
        event = sub.queue.get_nowait()
    if sub.overflowed:
        sub.overflowed = False
        while not sub.queue.empty():
            sub.queue.get_nowait()
        return _Signal.LOST
    return event
