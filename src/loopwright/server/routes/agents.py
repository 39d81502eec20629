"""Agents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.repos import agents, providers
from loopwright.domain.events import NewEvent
from loopwright.domain.vocabulary import AgentMode, AgentStatus
from loopwright.errors import ValidationFailed
from loopwright.events import log
from loopwright.runtime import toolbox
from loopwright.server.auth import Admin, Reader, ServicesDep
from loopwright.server.openapi import CONFLICT
from loopwright.server.schemas.agents import AgentCreate, AgentPublic, AgentUpdate
from loopwright.server.schemas.common import Cursor, Limit, ListOf
from loopwright.settings import Settings

router = APIRouter(prefix="/v1/stores/{store_id}/agents", tags=["agents"])


async def _check_models(
    session: AsyncSession, settings: Settings, store_id: str, models: list[str]
) -> None:
    known = settings.environment_providers() | await providers.names(session, store_id)
    for model in models:
        provider = model.split(":", 1)[0]
        if provider not in known:
            raise ValidationFailed(
                f"model {model!r} names no configured provider",
                details={"field": "model", "known_providers": sorted(known)},
            )


async def _check_tools(session: AsyncSession, store_id: str, names: list[str]) -> None:
    known = await toolbox.known_tool_names(session, store_id)
    unknown = sorted(
        name for name in set(names) if name not in known and f"{name.split('.')[0]}.*" not in known
    )
    if unknown:
        raise ValidationFailed(
            f"unknown tools: {', '.join(unknown)}",
            details={"field": "tools", "unknown": unknown},
        )


@router.post("", status_code=201, responses=CONFLICT)
async def create_agent(body: AgentCreate, access: Admin, svc: ServicesDep) -> AgentPublic:
    async with svc.db.write(access.store_id) as session:
        await _check_models(
            session,
            svc.settings,
            access.store_id,
            [
                body.model,
                *body.fallback_models,
                *([body.executor_model] if body.executor_model else []),
            ],
        )
        await _check_tools(session, access.store_id, body.tools)
        row = await agents.create(session, access.store_id, body.model_dump())
        await log.append(
            session,
            access.store_id,
            [NewEvent("agent.created", {"agent_id": row.id, "name": row.name})],
        )
    return AgentPublic.model_validate(row)


@router.get("")
async def list_agents(
    access: Reader,
    svc: ServicesDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    status: AgentStatus | None = None,
    mode: AgentMode | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ListOf[AgentPublic]:
    async with svc.db.read(access.store_id) as session:
        page = await agents.search(
            session, access.store_id, q=q, status=status, mode=mode, limit=limit, cursor=cursor
        )
    return ListOf(
        items=[AgentPublic.model_validate(a) for a in page.items], next_cursor=page.next_cursor
    )


@router.get("/{agent_id}")
async def get_agent(agent_id: str, access: Reader, svc: ServicesDep) -> AgentPublic:
    async with svc.db.read(access.store_id) as session:
        row = await agents.get(session, access.store_id, agent_id)
    return AgentPublic.model_validate(row)


@router.patch("/{agent_id}", responses=CONFLICT)
async def update_agent(
    agent_id: str, body: AgentUpdate, access: Admin, svc: ServicesDep
) -> AgentPublic:
    changes = body.model_dump(exclude_unset=True)
    async with svc.db.write(access.store_id) as session:
        models = [changes["model"]] if "model" in changes else []
        models += changes.get("fallback_models") or []
        models += [changes["executor_model"]] if changes.get("executor_model") else []
        await _check_models(session, svc.settings, access.store_id, models)
        await _check_tools(session, access.store_id, changes.get("tools") or [])
        row = await agents.update(session, access.store_id, agent_id, changes)
        await log.append(
            session,
            access.store_id,
            [NewEvent("agent.updated", {"agent_id": row.id, "fields": sorted(changes)})],
        )
    return AgentPublic.model_validate(row)


@router.delete("/{agent_id}", status_code=204)
async def delete_agent(agent_id: str, access: Admin, svc: ServicesDep) -> Response:
    async with svc.db.write(access.store_id) as session:
        await agents.remove(session, access.store_id, agent_id)
        await log.append(
            session, access.store_id, [NewEvent("agent.deleted", {"agent_id": agent_id})]
        )
    return Response(status_code=204)
