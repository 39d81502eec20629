"""GENERATED from ``_async_guardrails.py`` by ``scripts/unasync_client.py``: do not edit; edit
``_async_guardrails.py`` and run the script. (The synchronous twin of the async client.)"""

from __future__ import annotations

from typing import Any, Literal, Unpack

from loopwright.client._sync_base import Resource, query
from loopwright.client.models import Approval, LimitsUsage, Page, StoreSettings, StoreSettingsFields

ApprovalStatus = Literal["pending", "approved", "rejected", "expired"]


class Settings(Resource):
    def get(self) -> StoreSettings:
        return self._c.call(StoreSettings, "GET", f"{self._c.store_path()}/settings")

    def update(self, **fields: Unpack[StoreSettingsFields]) -> StoreSettings:
        """Change the fields named (admin; rates and budgets: operator)."""
        path = f"{self._c.store_path()}/settings"
        return self._c.call(StoreSettings, "PATCH", path, json=fields)


class Limits(Resource):
    def get(self, *, agent_id: str | None = None) -> LimitsUsage:
        """Usage so far in the current UTC minute and day, with the limits."""
        path = f"{self._c.store_path()}/limits"
        return self._c.call(LimitsUsage, "GET", path, params=query(agent_id=agent_id))


class Approvals(Resource):
    def list(
        self,
        *,
        status: ApprovalStatus | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Approval]:
        params = query(status=status, agent_id=agent_id, run_id=run_id, limit=limit, cursor=cursor)
        path = f"{self._c.store_path()}/approvals"
        return self._c.call(Page[Approval], "GET", path, params=params)

    def get(self, approval_id: str) -> Approval:
        path = f"{self._c.store_path()}/approvals/{approval_id}"
        return self._c.call(Approval, "GET", path)

    def approve(self, approval_id: str, *, arguments: dict[str, Any] | None = None) -> Approval:
        """Let the call run (with ``arguments`` instead, checked against the tool's schema);
        ``Conflict`` once decided or expired."""
        path = f"{self._c.store_path()}/approvals/{approval_id}/approve"
        body = {} if arguments is None else {"arguments": arguments}
        return self._c.call(Approval, "POST", path, json=body)

    def reject(self, approval_id: str, *, reason: str | None = None) -> Approval:
        """Refuse the call; the model reads ``reason`` as its error."""
        path = f"{self._c.store_path()}/approvals/{approval_id}/reject"
        body = {} if reason is None else {"reason": reason}
        return self._c.call(Approval, "POST", path, json=body)
