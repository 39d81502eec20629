"""The audit trail of tool calls: agent, run, arguments, result or error, duration, outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from loopwright.db.repos.paging import newest_first
from loopwright.db.tables import ToolCallRow
from loopwright.server.auth import Reader, ServicesDep
from loopwright.server.schemas.common import Cursor, Limit, ListOf, Output

router = APIRouter(prefix="/v1/stores/{store_id}/tool-calls", tags=["tools"])
Filter = Annotated[str | None, Query(max_length=200)]


class ToolCallPublic(Output):
    id: str
    run_id: str | None
    call_id: str
    agent_id: str | None
    tool_name: str
    arguments: dict[str, Any]
    result: Any
    outcome: str
    duration_ms: float
    created_at: datetime


@router.get("")
async def list_tool_calls(
    access: Reader,
    svc: ServicesDep,
    run_id: Filter = None,
    agent_id: Filter = None,
    tool: Filter = None,
    outcome: Literal["ok", "error", "refused"] | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ListOf[ToolCallPublic]:
    query = select(ToolCallRow).where(ToolCallRow.store_id == access.store_id)
    for column, value in (
        (ToolCallRow.run_id, run_id),
        (ToolCallRow.agent_id, agent_id),
        (ToolCallRow.tool_name, tool),
        (ToolCallRow.outcome, outcome),
    ):
        if value is not None:
            query = query.where(column == value)
    async with svc.db.read(access.store_id) as session:
        page = await newest_first(session, query, ToolCallRow.id, limit=limit, cursor=cursor)
    return ListOf(
        items=[ToolCallPublic.model_validate(r) for r in page.items], next_cursor=page.next_cursor
    )
