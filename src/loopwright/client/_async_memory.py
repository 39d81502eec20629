"""The asynchronous client's long-term memory: memories, the suggestions reflections make,
reflecting on a session, and the store's memory settings. ``_sync_memory.py`` is generated from
this file by ``scripts/unasync_client.py``."""

from __future__ import annotations

from typing import Literal, Unpack

from loopwright.client._async_base import AsyncResource, query
from loopwright.client.models import (
    Memory,
    MemoryFields,
    MemorySettings,
    MemorySuggestion,
    MemoryType,
    Page,
    Reflection,
    SuggestionEdits,
)


class AsyncMemories(AsyncResource):
    async def create(
        self,
        agent_id: str,
        content: str,
        *,
        type: MemoryType | None = None,
        importance: float | None = None,
        shared: bool | None = None,
    ) -> Memory:
        body = {
            "agent_id": agent_id,
            "content": content,
            **query(type=type, importance=importance),
            **({"shared": shared} if shared is not None else {}),
        }
        path = f"{await self._c.store_path()}/memories"
        return await self._c.call(Memory, "POST", path, json=body)

    async def list(
        self,
        *,
        agent_id: str | None = None,
        type: MemoryType | None = None,
        q: str | None = None,
        superseded: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Memory]:
        params = query(
            agent_id=agent_id, type=type, q=q, superseded=superseded, limit=limit, cursor=cursor
        )
        path = f"{await self._c.store_path()}/memories"
        return await self._c.call(Page[Memory], "GET", path, params=params)

    async def get(self, memory_id: str) -> Memory:
        path = f"{await self._c.store_path()}/memories/{memory_id}"
        return await self._c.call(Memory, "GET", path)

    async def update(self, memory_id: str, **fields: Unpack[MemoryFields]) -> Memory:
        path = f"{await self._c.store_path()}/memories/{memory_id}"
        return await self._c.call(Memory, "PATCH", path, json=fields)

    async def delete(self, memory_id: str) -> None:
        await self._c.request("DELETE", f"{await self._c.store_path()}/memories/{memory_id}")

    async def reflect(self, session_id: str) -> Reflection:
        """Queue a reflection run over the session's messages no reflection read yet
        (``run_id`` None: nothing new)."""
        path = f"{await self._c.store_path()}/sessions/{session_id}/reflect"
        return await self._c.call(Reflection, "POST", path)

    async def settings(self) -> MemorySettings:
        path = f"{await self._c.store_path()}/memory-settings"
        return await self._c.call(MemorySettings, "GET", path)

    async def set_settings(self, *, embedding_model: str | None) -> MemorySettings:
        """``provider:model`` for hybrid retrieval (admin); None: full-text only."""
        path = f"{await self._c.store_path()}/memory-settings"
        body = {"embedding_model": embedding_model}
        return await self._c.call(MemorySettings, "PUT", path, json=body)


class AsyncMemorySuggestions(AsyncResource):
    async def list(
        self,
        *,
        agent_id: str | None = None,
        session_id: str | None = None,
        status: Literal["pending", "approved", "rejected"] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[MemorySuggestion]:
        params = query(
            agent_id=agent_id, session_id=session_id, status=status, limit=limit, cursor=cursor
        )
        path = f"{await self._c.store_path()}/memory-suggestions"
        return await self._c.call(Page[MemorySuggestion], "GET", path, params=params)

    async def get(self, suggestion_id: str) -> MemorySuggestion:
        path = f"{await self._c.store_path()}/memory-suggestions/{suggestion_id}"
        return await self._c.call(MemorySuggestion, "GET", path)

    async def approve(
        self, suggestion_id: str, **edits: Unpack[SuggestionEdits]
    ) -> MemorySuggestion:
        """Make the memory (with the edits given); ``Conflict`` once decided."""
        path = f"{await self._c.store_path()}/memory-suggestions/{suggestion_id}/approve"
        return await self._c.call(MemorySuggestion, "POST", path, json=edits)

    async def reject(self, suggestion_id: str) -> MemorySuggestion:
        path = f"{await self._c.store_path()}/memory-suggestions/{suggestion_id}/reject"
        return await self._c.call(MemorySuggestion, "POST", path)
