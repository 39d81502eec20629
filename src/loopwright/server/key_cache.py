"""A short-lived cache of resolved API keys, so a request does not pay a lookup for its key.

Keys deleted through this process are dropped at once; a deletion made by another process
(another API node, the CLI) takes effect within ``ttl_s``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

MAX_ENTRIES = 10_000


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

    def get(self, key_hash: str) -> CachedKey | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry.expires_at < time.monotonic():
            del self._entries[key_hash]
            return None
        return entry

    def put(self, key_hash: str, store_id: str, role: str, key_id: str) -> CachedKey:
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        entry = CachedKey(store_id, role, key_id, time.monotonic() + self.ttl_s)
        self._entries[key_hash] = entry
        return entry

    def forget(self, key_id: str) -> None:
        for key_hash in [h for h, e in self._entries.items() if e.key_id == key_id]:
            del self._entries[key_hash]
