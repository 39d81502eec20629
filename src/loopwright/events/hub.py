"""In-process fan-out: hands each committed event to the subscribers that want it.

The hub is a cache and an alarm, never the source of truth: a subscriber that cannot prove it
saw every event it wanted (events from another process, a full queue) reads the log instead.

Subscribers say what they want (an ``EventFilter``) and are indexed by session and by run,
so an event wakes only the readers it concerns: with one chat open per session, publishing
costs the same whatever the number of open chats. A filtered reader sees gaps in ``seq``; the
hub vouches for them with ``published``: it tracks, per store, which seqs it has handed out (as
a few intervals: events can arrive out of order when peer processes relay theirs), and a gap
whose every seq was handed out holds only events the reader's filter refused.

It also keeps, per store, the last high-water a reader read from the log, so readers waiting
on a quiet stream share one look at the log per interval instead of one each.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
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


class _Seqs:
    """The seqs one hub has published for one store, as sorted disjoint intervals. Only the
    newest ``KEPT_INTERVALS`` are kept: forgetting an old one only sends a reader to the log."""

    KEPT_INTERVALS = 32
    __slots__ = ("firsts", "lasts")

    def __init__(self) -> None:
        self.firsts: list[int] = []
        self.lasts: list[int] = []

    def add(self, seq: int) -> None:
        firsts, lasts = self.firsts, self.lasts
        if lasts and lasts[-1] == seq - 1:  # the common case: the next seq
            lasts[-1] = seq
            return
        i = bisect.bisect_right(firsts, seq) - 1  # the interval starting at or before seq
        if i >= 0 and seq <= lasts[i]:
            return
        joins_left = i >= 0 and lasts[i] == seq - 1
        joins_right = i + 1 < len(firsts) and firsts[i + 1] == seq + 1
        if joins_left and joins_right:
            lasts[i] = lasts.pop(i + 1)
            del firsts[i + 1]
        elif joins_left:
            lasts[i] = seq
        elif joins_right:
            firsts[i + 1] = seq
        else:
            firsts.insert(i + 1, seq)
            lasts.insert(i + 1, seq)
            if len(firsts) > self.KEPT_INTERVALS:
                del firsts[0], lasts[0]

    def cover(self, first: int, last: int) -> bool:
        i = bisect.bisect_right(self.firsts, first) - 1
        return i >= 0 and last <= self.lasts[i]


class EventHub:
    def __init__(self, reorder_s: float = 0.0) -> None:
        """``reorder_s``: how long a reader waits for a seq missing before one it was handed
        (relayed from a peer process, out of order) before it reads the log instead."""
        self.reorder_s = reorder_s
        self._forwards: list[Callable[[Sequence[Event]], None]] = []
        self._readers: dict[str, int] = defaultdict(int)  # store -> subscriptions
        # keyed by ("store", store, ""), ("session", store, session_id) or ("run", store, run_id)
        self._subscribers: dict[tuple[str, str, str], set[Subscription]] = defaultdict(set)
        self._published: dict[str, _Seqs] = defaultdict(_Seqs)
        self._high_water: dict[str, tuple[float, int]] = {}  # store -> (read at, seq)
        self._watchers: list[Callable[[Event], None]] = []
        self._queued_watchers: list[Callable[[str], None]] = []
        self._interest: list[Callable[[], None]] = []

    def watch(self, watcher: Callable[[Event], None]) -> None:
        """Call ``watcher`` with every event this hub receives, any store's (it must be quick:
        it runs inside ``publish``)."""
        self._watchers.append(watcher)

    def unwatch(self, watcher: Callable[[Event], None]) -> None:
        self._watchers.remove(watcher)

    def watch_queued(self, watcher: Callable[[str], None]) -> None:
        """Call ``watcher`` with the store of each run another process queued (a notifier
        says so): a worker admits it at once instead of at its next sweep."""
        self._queued_watchers.append(watcher)
        self._interest_changed()

    def unwatch_queued(self, watcher: Callable[[str], None]) -> None:
        self._queued_watchers.remove(watcher)
        self._interest_changed()

    def on_interest(self, changed: Callable[[], None]) -> None:
        """Call ``changed`` when this process starts or stops having readers (of any store)
        or queued-run watchers: a notifier listens only for what someone here takes."""
        self._interest.append(changed)

    def off_interest(self, changed: Callable[[], None]) -> None:
        self._interest.remove(changed)

    @property
    def reads_any(self) -> bool:
        """Whether a reader of this process follows some store."""
        return bool(self._readers)

    @property
    def watches_queued(self) -> bool:
        return bool(self._queued_watchers)

    def _interest_changed(self) -> None:
        for changed in self._interest:
            changed()

    def queued_elsewhere(self, store_id: str) -> None:
        for watcher in self._queued_watchers:
            watcher(store_id)

    def add_forward(self, forward: Callable[[Sequence[Event]], None]) -> None:
        """Also hand every event this process publishes to ``forward`` (a notifier: the
        relay, PostgreSQL notifications), which must not block."""
        self._forwards.append(forward)

    def remove_forward(self, forward: Callable[[Sequence[Event]], None]) -> None:
        self._forwards.remove(forward)

    def publish(self, events: Sequence[Event]) -> None:
        """Events this process committed (or streamed): to its readers, and to other
        processes through its notifiers."""
        self.receive(events)
        for forward in self._forwards:
            forward(events)

    def receive(self, events: Sequence[Event]) -> None:
        """Events for this process's readers only (another process's, relayed or notified)."""
        for event in events:
            store = event.store_id
            if event.seq is not None:
                self._published[store].add(event.seq)
            for key in (
                ("store", store, ""),
                ("session", store, event.session_id or ""),
                ("run", store, event.run_id or ""),
            ):
                for sub in self._subscribers.get(key, ()):
                    sub.offer(event)
            for watcher in self._watchers:
                watcher(event)

    def published(self, store_id: str, first: int, last: int) -> bool:
        """Whether every seq in ``first..last`` went through this hub: each one was then
        offered to every subscriber that existed."""
        seqs = self._published.get(store_id)
        return seqs is not None and seqs.cover(first, last)

    def has_readers(self, store_id: str) -> bool:
        """Whether a reader of this process follows the store."""
        return self._readers.get(store_id, 0) > 0

    def stores_read(self) -> list[str]:
        """The stores readers of this process follow."""
        return [store for store, count in self._readers.items() if count > 0]

    def last_known(self, store_id: str) -> int | None:
        """The highest seq of the store this hub published or a reader read from the log:
        where a reader that missed nothing since stands."""
        seqs = self._published.get(store_id)
        published = seqs.lasts[-1] if seqs is not None and seqs.lasts else None
        noted = self._high_water.get(store_id)
        found = [seq for seq in (published, noted[1] if noted else None) if seq is not None]
        return max(found) if found else None

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
        first = not self._readers
        self._readers[store_id] += 1
        if first:
            self._interest_changed()
        try:
            yield sub
        finally:
            subs.discard(sub)
            if not subs:
                self._subscribers.pop(key, None)
            self._readers[store_id] -= 1
            if not self._readers[store_id]:
                del self._readers[store_id]
                if not self._readers:
                    self._interest_changed()
