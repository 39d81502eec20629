"""First start: a ``demo`` store with an offline agent and an admin key."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from loopwright.db.database import Database
from loopwright.db.repos import agents, tenancy
from loopwright.db.tables import StoreRow
from loopwright.tools.builtin import BUILTIN_TOOLS

DEMO_STORE = "demo"
DEMO_AGENT = {
    "name": "assistant",
    "description": "Demo agent on the offline model: try 'create a task called Buy milk'.",
    "goal": "Help the user manage projects, tasks and documents.",
    "system_prompt": "You are a helpful assistant for a small workspace.",
    "model": "offline:default",
    "tools": sorted(BUILTIN_TOOLS),
}


@dataclass(frozen=True, slots=True)
class Demo:
    store_id: str
    admin_key: str
    agent_id: str


async def create_demo_if_empty(db: Database) -> Demo | None:
    async with db.write() as session:
        if await session.scalar(select(func.count()).select_from(StoreRow)):
            return None
        await tenancy.create_store(session, DEMO_STORE, "Demo")
        issued = await tenancy.issue_key(session, DEMO_STORE, "admin", "demo admin")
        agent = await agents.create(session, DEMO_STORE, dict(DEMO_AGENT))
    return Demo(store_id=DEMO_STORE, admin_key=issued.key, agent_id=agent.id)


async def first_store(db: Database) -> str | None:
    """The oldest store's id (a later start tells how to make a new admin key for it)."""
    async with db.read() as session:
        found: str | None = await session.scalar(select(StoreRow.id).order_by(StoreRow.id).limit(1))
    return found
