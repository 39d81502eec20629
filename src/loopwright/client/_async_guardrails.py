"""The asynchronous client's guardrails: the store's settings, its limits' usage, and tool
approvals. ``_sync_guardrails.py`` is generated from this file by
``scripts/unasync_client.py``."""

from __future__ import annotations

from typing import Any, Literal, Unpack

from loopwright.client._async_base import AsyncResource, query
from loopwright.client.models import Approval, LimitsUsage, Page, StoreSettings, StoreSettingsFields

ApprovalStatus = Literal["pending", "approved", "rejected", "expired"]


class AsyncSettings(AsyncResource):
    async def get(self) -> StoreSettings:
        return await self._c.call(StoreSettings, "GET", f"{await self._c.store_path()}/settings")

    async def update(self, **fields: Unpack[StoreSettingsFields]) -> StoreSettings:
        """Change the fields named (admin; rates and budgets: operator)."""
        path = f"{await self._c.store_path()}/settings"
        return await self._c.call(StoreSettings, "PATCH", path, json=fields)


class AsyncLimits(AsyncResource):
    async def get(self, *, agent_id: str | None = None) -> LimitsUsage:
        """Usage so far in the current UTC minute and day, with the limits."""
        path = f"{await self._c.store_path()}/limits"
        return await self._c.call(LimitsUsage, "GET", path, params=query(agent_id=agent_id))


class AsyncApprovals(AsyncResource):
    async def list(
        self,
        *,
        status: ApprovalStatus | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Approval]:
        params = query(status=status, agent_id=agent_id, run_id=run_id, limit=limit, cursor=cursor)
        path = f"{await self._c.store_path()}/approvals"
        return await self._c.call(Page[Approval], "GET", path, params=params)

    async def get(self, approval_id: str) -> Approval:
        path = f"{await self._c.store_path()}/approvals/{approval_id}"
        return await self._c.call(Approval, "GET", path)

    async def approve(
        self, approval_id: str, *, arguments: dict[str, Any] | None = None
    ) -> Approval:
        """Let the call run (with ``arguments`` instead, checked against the tool's schema);
        ``Conflict`` once decided or expired."""
        path = f"{await self._c.store_path()}/approvals/{approval_id}/approve"
        body = {} if arguments is None else {"arguments": arguments}
        return await self._c.call(Approval, "POST", path, json=body)

    async def reject(self, approval_id: str, *, reason: str | None = None) -> Approval:
        """Refuse the call; the model reads ``reason`` as its error."""
        path = f"{await self._c.store_path()}/approvals/{approval_id}/reject"
        body = {} if reason is None else {"reason": reason}
        return await self._c.call(Approval, "POST", path, json=body)
