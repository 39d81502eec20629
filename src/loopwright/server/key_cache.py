"""A short-lived cache of resolved API keys, so a request does not pay a lookup for its key.

Keys deleted through this process are dropped at once (and the streams holding them are told);
a deletion made by another process (another API node, the CLI) takes effect within ``ttl_s``.
Concurrent misses for one key share one lookup: the open streams of a key all look it up again
when its entry expires.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class KeyRecord:
    store_id: str
    role: str
    key_id: str


@dataclass(frozen=True, slots=True)
class CachedKey:
    store_id: str
    role: str
    key_id: str
    expires_at: float


class KeyCache:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, CachedKey] = {}
        self._loading: dict[str, asyncio.Future[CachedKey | None]] = {}
        self._forgets = 0  # a lookup that ran across a forget() does not cache its answer
        self._deleted: weakref.WeakValueDictionary[str, asyncio.Event] = (
            weakref.WeakValueDictionary()
        )

    def get(self, key_hash: str) -> CachedKey | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry.expires_at < time.monotonic():
            del self._entries[key_hash]
            return None
        return entry

    async def lookup(
        self, key_hash: str, load: Callable[[], Awaitable[KeyRecord | None]]
    ) -> CachedKey | None:
        """The cached key, or ``load``'s answer (None: no such key), one load at a time."""
        entry = self.get(key_hash)
        if entry is not None:
            return entry
        pending = self._loading.get(key_hash)
        if pending is None:
            pending = asyncio.ensure_future(self._load(key_hash, load, self._forgets))
            self._loading[key_hash] = pending
            pending.add_done_callback(lambda _: self._loading.pop(key_hash, None))
        return await asyncio.shield(pending)  # a caller that gives up does not cancel the rest

    async def _load(
        self, key_hash: str, load: Callable[[], Awaitable[KeyRecord | None]], forgets: int
    ) -> CachedKey | None:
        found = await load()
        if found is None:
            return None
        if forgets != self._forgets:  # read before a deletion committed: do not keep it
            return CachedKey(found.store_id, found.role, found.key_id, time.monotonic())
        return self.put(key_hash, found.store_id, found.role, found.key_id)

    def put(self, key_hash: str, store_id: str, role: str, key_id: str) -> CachedKey:
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        entry = CachedKey(store_id, role, key_id, time.monotonic() + self.ttl_s)
        self._entries[key_hash] = entry
        return entry

    def forget(self, key_id: str) -> None:
        """A key was deleted through this process: drop it and tell its streams."""
        self._forgets += 1
        for key_hash in [h for h, e in self._entries.items() if e.key_id == key_id]:
            del self._entries[key_hash]
        deleted = self._deleted.get(key_id)
        if deleted is not None:
            deleted.set()

    def deletion(self, key_id: str) -> asyncio.Event:
        """Set when this process deletes the key; hold it while waiting (it is kept only
        as long as someone does)."""
        event = self._deleted.get(key_id)
        if event is None:
            event = asyncio.Event()
            self._deleted[key_id] = event
        return event
