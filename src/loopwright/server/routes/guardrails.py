"""A store's guardrails: its settings, its usage against the limits, and tool approvals."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from loopwright.db.repos import counters, tenancy
from loopwright.db.repos.paging import newest_first
from loopwright.db.tables import ApprovalRow
from loopwright.domain import store_settings
from loopwright.domain.store_settings import ADMIN_FIELDS, StoreSettings
from loopwright.errors import Forbidden
from loopwright.runtime import approvals, limits
from loopwright.server.auth import Admin, Member, Reader, ServicesDep
from loopwright.server.openapi import declared
from loopwright.server.schemas.common import Cursor, Limit, ListOf
from loopwright.server.schemas.guardrails import (
    AgentUsage,
    ApprovalPublic,
    ApproveBody,
    DayUsage,
    LimitsUsage,
    MinuteUsage,
    RejectBody,
    StoreSettingsPublic,
    StoreSettingsUpdate,
    ToolUsage,
    Used,
)

router = APIRouter(prefix="/v1/stores/{store_id}", tags=["guardrails"])
Filter = Annotated[str | None, Query(max_length=200)]


def _public(settings: StoreSettings, concurrency: int) -> StoreSettingsPublic:
    return StoreSettingsPublic(**settings.model_dump(), store_concurrency=concurrency)


@router.get("/settings")
async def get_settings(access: Reader, svc: ServicesDep) -> StoreSettingsPublic:
    async with svc.db.read(access.store_id) as session:
        row = await tenancy.get_store(session, access.store_id)
    return _public(store_settings.parse(row.settings), svc.settings.store_concurrency)


@router.patch(
    "/settings",
    responses=declared(403, "A field only the operator may change (`forbidden`)."),
)
async def update_settings(
    body: StoreSettingsUpdate, access: Admin, svc: ServicesDep
) -> StoreSettingsPublic:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    if not access.principal.is_operator:
        refused = sorted(set(changes) - ADMIN_FIELDS)
        if refused:
            raise Forbidden(
                f"only the operator may change {', '.join(refused)}",
                details={"fields": refused},
            )
    async with svc.db.write(access.store_id) as session:
        row = await tenancy.get_store(session, access.store_id)
        stored = {**(row.settings or {}), **changes}
        settings = store_settings.parse(stored)
        row.settings = stored
    return _public(settings, svc.settings.store_concurrency)


@router.get("/limits")
async def get_limits(access: Reader, svc: ServicesDep, agent_id: Filter = None) -> LimitsUsage:
    """Usage so far against the limits: the current UTC minute and day, per store, agent
    and tool."""
    now = time.time()
    minute, day = limits.minute_of(now), limits.day_of(now)
    minute_keys = [limits.runs_key(minute), limits.tokens_minute_key(minute)]
    async with svc.db.read(access.store_id) as session:
        settings = store_settings.parse(
            (await tenancy.get_store(session, access.store_id)).settings
        )
        used = await counters.read(
            session, access.store_id, [*minute_keys, limits.tokens_day_key(day)]
        )
        agents_used = await counters.read_like(session, access.store_id, f"agent:%:d{day}")
        tools_used = await counters.read_like(session, access.store_id, f"tool:%:m{minute}")
    budgets = settings.agent_daily_token_budgets
    agent_ids = {key.split(":")[1] for key in agents_used} | set(budgets)
    if agent_id is not None:
        agent_ids = {agent_id}
    tool_default = settings.tool_calls_per_min or svc.settings.tool_calls_per_min
    return LimitsUsage(
        runs_enabled=settings.runs_enabled,
        minute=MinuteUsage(
            start=datetime.fromtimestamp(minute * 60, UTC),
            runs=Used(used=used.get(minute_keys[0], 0), limit=settings.runs_per_min),
            tokens=Used(used=used.get(minute_keys[1], 0), limit=settings.tokens_per_min),
        ),
        day=DayUsage(
            start=datetime.fromtimestamp(day * 86_400, UTC),
            tokens=Used(
                used=used.get(limits.tokens_day_key(day), 0), limit=settings.daily_token_budget
            ),
        ),
        agents=[
            AgentUsage(
                agent_id=agent,
                tokens_today=Used(
                    used=agents_used.get(limits.agent_day_key(agent, day), 0),
                    limit=budgets.get(agent),
                ),
            )
            for agent in sorted(agent_ids)
        ],
        tools=[
            ToolUsage(
                tool=key[len("tool:") : key.rindex(":")],
                calls_this_minute=Used(
                    used=count,
                    limit=settings.tool_limits.get(key[len("tool:") : key.rindex(":")])
                    or tool_default,
                ),
            )
            for key, count in sorted(tools_used.items())
        ],
    )


@router.get("/approvals")
async def list_approvals(
    access: Reader,
    svc: ServicesDep,
    status: Literal["pending", "approved", "rejected", "expired"] | None = None,
    agent_id: Filter = None,
    run_id: Filter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ListOf[ApprovalPublic]:
    """Tool calls waiting for a decision (``status=pending``), and the decisions made: who
    decided, when, with which arguments or reason."""
    query = approvals.listing(access.store_id, status=status, agent_id=agent_id, run_id=run_id)
    async with svc.db.read(access.store_id) as session:
        page = await newest_first(session, query, ApprovalRow.id, limit=limit, cursor=cursor)
    return ListOf(
        items=[ApprovalPublic.model_validate(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get("/approvals/{approval_id}")
async def get_approval(approval_id: str, access: Reader, svc: ServicesDep) -> ApprovalPublic:
    row = await approvals.get(svc.db, access.store_id, approval_id)
    return ApprovalPublic.model_validate(row)


_DECIDED = declared(409, "The approval was decided already, or expired (`conflict`).")


def _who(access: Any) -> str:
    principal = access.principal
    return "operator" if principal.is_operator else str(principal.key_id)


@router.post("/approvals/{approval_id}/approve", responses=_DECIDED)
async def approve(
    approval_id: str, body: ApproveBody, access: Member, svc: ServicesDep
) -> ApprovalPublic:
    """Run the call (with ``arguments`` instead of the model's, if given); the run goes on."""
    row = await svc.runtime.decide(
        access.store_id,
        approval_id,
        approve=True,
        arguments=body.arguments,
        reason=None,
        by=_who(access),
    )
    return ApprovalPublic.model_validate(row)


@router.post("/approvals/{approval_id}/reject", responses=_DECIDED)
async def reject(
    approval_id: str, body: RejectBody, access: Member, svc: ServicesDep
) -> ApprovalPublic:
    """Do not run the call; the model reads ``reason``."""
    row = await svc.runtime.decide(
        access.store_id,
        approval_id,
        approve=False,
        arguments=None,
        reason=body.reason,
        by=_who(access),
    )
    return ApprovalPublic.model_validate(row)
