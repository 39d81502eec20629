"""In-process fan-out: hands each committed event to the subscribers that want it.

The hub is a cache and an alarm, never the source of truth: a subscriber that cannot prove it
saw every event it wanted (events from another process, a full queue) reads the log instead.

Subscribers say what they want (an ``EventFilter``) and are indexed by session and by run,
so an event wakes only the readers it concerns: with one chat open per session, publishing
costs the same whatever the number of open chats. A filtered reader sees gaps in ``seq``; the
hub vouches for them with ``published``: it tracks, per store, the run of consecutive seqs it
has handed out, and a gap inside that run holds only events the reader's filter refused.

It also keeps, per store, the last high-water a reader read from the log, so readers waiting
on a quiet stream share one look at the log per interval instead of one each.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from loopwright.domain.events import Event, EventFilter

QUEUE_LIMIT = 1024
_EVERYTHING = EventFilter()


class Subscription:
    def __init__(self, store_id: str, where: EventFilter) -> None:
        self.store_id = store_id
        self.where = where
        self.queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_LIMIT)
        self.overflowed = False

    def offer(self, event: Event) -> None:
        if not self.where.matches(event):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True  # the reader re-reads the log; deltas may be dropped


class _Run:
    """The consecutive seqs ``first..last`` this hub has published for one store."""

    __slots__ = ("first", "last")

    def __init__(self, seq: int) -> None:
        self.first = self.last = seq


class EventHub:
    def __init__(self) -> None:
        # keyed by ("store", store, ""), ("session", store, session_id) or ("run", store, run_id)
        self._subscribers: dict[tuple[str, str, str], set[Subscription]] = defaultdict(set)
        self._published: dict[str, _Run] = {}
        self._high_water: dict[str, tuple[float, int]] = {}  # store -> (read at, seq)

    def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            store = event.store_id
            if event.seq is not None:
                run = self._published.get(store)
                if run is not None and event.seq == run.last + 1:
                    run.last = event.seq
                else:  # another process appended, or commits published out of order
                    self._published[store] = _Run(event.seq)
            for key in (
                ("store", store, ""),
                ("session", store, event.session_id or ""),
                ("run", store, event.run_id or ""),
            ):
                for sub in self._subscribers.get(key, ()):
                    sub.offer(event)

    def published(self, store_id: str, first: int, last: int) -> bool:
        """Whether every seq in ``first..last`` went through this hub, in order: each one was
        then offered to every subscriber that existed."""
        run = self._published.get(store_id)
        return run is not None and run.first <= first and last <= run.last

    def note_high_water(self, store_id: str, seq: int) -> None:
        """Remember the store's high-water as a reader just read it from the log."""
        self._high_water[store_id] = (time.monotonic(), seq)

    def recent_high_water(self, store_id: str, max_age_s: float) -> int | None:
        """The store's high-water if a reader read it within ``max_age_s``."""
        found = self._high_water.get(store_id)
        if found is None or time.monotonic() - found[0] > max_age_s:
            return None
        return found[1]

    @contextmanager
    def subscribe(self, store_id: str, where: EventFilter = _EVERYTHING) -> Iterator[Subscription]:
        sub = Subscription(store_id, where)
        if where.session_id is not None:
            key = ("session", store_id, where.session_id)
        elif where.run_id is not None:
            key = ("run", store_id, where.run_id)
        else:
            key = ("store", store_id, "")
        subs = self._subscribers[key]
        subs.add(sub)
        try:
            yield sub
        finally:
            subs.discard(sub)
            if not subs:
                self._subscribers.pop(key, None)
