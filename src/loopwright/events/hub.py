"""In-process fan-out: wakes subscribers of a store when its events commit.

The hub is a cache and an alarm, never the source of truth: a subscriber that finds a gap
in what it was handed (events from another process, a full queue) reads the log instead.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from loopwright.domain.events import Event

QUEUE_LIMIT = 1024


class Subscription:
    def __init__(self, store_id: str) -> None:
        self.store_id = store_id
        self.queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_LIMIT)
        self.overflowed = False

    def offer(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True  # the reader re-reads the log; deltas may be dropped


class EventHub:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)

    def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            for sub in self._subscribers.get(event.store_id, ()):
                sub.offer(event)

    @contextmanager
    def subscribe(self, store_id: str) -> Iterator[Subscription]:
        sub = Subscription(store_id)
        self._subscribers[store_id].add(sub)
        try:
            yield sub
        finally:
            subs = self._subscribers.get(store_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[store_id]

    def subscriber_count(self, store_id: str) -> int:
        return len(self._subscribers.get(store_id, ()))
