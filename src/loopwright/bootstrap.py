"""First start: a ``demo`` store with an offline agent, an offline team agent, two projects to
compare ("compare my projects" to the team agent plans one step per project) and an admin
key."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from loopwright.db.database import Database
from loopwright.db.repos import agents, tenancy
from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import StoreRow
from loopwright.runtime import workspace
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

DEMO_TEAM_AGENT = {
    "name": "team",
    "description": "Demo team agent on the offline model: try 'compare my projects'.",
    "goal": "Answer questions about the workspace, researching with read-only executors.",
    "system_prompt": "You are the planner of a small team for a workspace.",
    "model": "offline:default",
    "tools": sorted(BUILTIN_TOOLS),
    "mode": "team",
}
DEMO_PROJECTS = {
    "Home": ["Buy milk", "Fix the bike"],
    "Work": ["Write the report", "Book the train", "Call the bank"],
}


@dataclass(frozen=True, slots=True)
class Demo:
    store_id: str
    admin_key: str
    agent_id: str


async def create_demo_if_empty(db: Database) -> Demo | None:
    async with db.write(DEMO_STORE) as session:
        if await session.scalar(select(func.count()).select_from(StoreRow)):
            return None
        await tenancy.create_store(session, DEMO_STORE, "Demo")
        issued = await tenancy.issue_key(session, DEMO_STORE, "admin", "demo admin")
        agent = await agents.create(session, DEMO_STORE, dict(DEMO_AGENT))
        await agents.create(session, DEMO_STORE, dict(DEMO_TEAM_AGENT))
        for name, tasks in DEMO_PROJECTS.items():
            project = await workspace.create_project(session, DEMO_STORE, name=name)
            for title in tasks:
                await workspace.create_task(session, DEMO_STORE, title=title, project_id=project.id)
    return Demo(store_id=DEMO_STORE, admin_key=issued.key, agent_id=agent.id)


async def first_store(db: Database) -> str | None:
    """The oldest store's id (a later start tells how to make a new admin key for it)."""
    async with db.read(ALL_STORES) as session:
        found: str | None = await session.scalar(select(StoreRow.id).order_by(StoreRow.id).limit(1))
    return found
