"""Run state transitions on a real database: a run's plan is fixed when it starts (a replay
after a crash runs with it even if the agent was edited meanwhile), and a run ends once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from loopwright.db.database import Database
from loopwright.db.migrate import upgrade
from loopwright.db.repos import agents, conversations, tenancy
from loopwright.db.row_security import ALL_STORES
from loopwright.domain.events import Event, EventFilter
from loopwright.errors import NotFound
from loopwright.events import log
from loopwright.runtime import lifecycle
from loopwright.runtime.submit import Submission, submit_message

STORE = "life"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    await asyncio.to_thread(upgrade, url)
    database = Database(url)
    async with database.write(ALL_STORES) as session:
        await tenancy.create_store(session, STORE, STORE)
    yield database
    await database.dispose()


async def queued_run(db: Database) -> tuple[str, str]:
    """(agent id, run id) of a freshly submitted message."""
    async with db.write(ALL_STORES) as session:
        agent = await agents.create(
            session,
            STORE,
            {
                "name": "planner",
                "model": "offline:default",
                "system_prompt": "Be brief.",
                "goal": "Plan the week.",
                "tools": ["list_tasks"],
                "max_steps": 4,
                "timeout_s": 60.0,
            },
        )
        chat = await conversations.create_session(session, STORE, agent.id, "", "enqueue")
    submitted = await submit_message(db, Submission(STORE, chat.id, "hello"))
    return agent.id, submitted.run.id


async def run_events(db: Database, run_id: str) -> list[Event]:
    async with db.read(ALL_STORES) as session:
        upto = await log.high_water(session, STORE)
        return await log.read_range(session, STORE, 0, upto, EventFilter(run_id=run_id), 100)


async def test_a_replayed_start_keeps_the_plan_it_started_with(db: Database) -> None:
    agent_id, run_id = await queued_run(db)

    started = await lifecycle.start(db, STORE, run_id)
    assert started is not None
    assert not started.resumed
    plan = started.plan
    assert (plan.models, plan.tools, plan.max_steps) == (("offline:default",), ("list_tasks",), 4)
    assert plan.system_prompt == "Be brief.\n\nGoal: Plan the week."

    async with db.write(ALL_STORES) as session:  # the agent is edited while the run is down
        await agents.update(
            session,
            STORE,
            agent_id,
            {"model": "offline:other", "tools": ["create_task"], "max_steps": 9},
        )
    replayed = await lifecycle.start(db, STORE, run_id)

    assert replayed is not None
    assert replayed.resumed
    assert replayed.plan == plan
    types = [e.type for e in await run_events(db, run_id)]
    assert types.count("run.started") == 1
    async with db.read(ALL_STORES) as session:
        run = await conversations.get_run(session, STORE, run_id)
    assert run.status == "running"


async def test_a_run_ends_once_and_an_ended_run_does_not_start(db: Database) -> None:
    _, run_id = await queued_run(db)

    assert await lifecycle.finish(db, STORE, run_id, "cancelled", stop_reason="cancelled")
    assert not await lifecycle.finish(db, STORE, run_id, "completed", stop_reason="final_answer")
    assert await lifecycle.start(db, STORE, run_id) is None

    events = await run_events(db, run_id)
    assert [e.type for e in events] == ["chat.message_sent", "run.queued", "run.cancelled"]
    assert events[-1].payload["usage"] == {"input_tokens": 0, "output_tokens": 0}
    async with db.read(ALL_STORES) as session:
        run = await conversations.get_run(session, STORE, run_id)
    assert (run.status, run.stop_reason, run.finished_at is not None) == (
        "cancelled",
        "cancelled",
        True,
    )


async def test_an_unknown_run_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        await lifecycle.start(db, STORE, "run_missing")
    with pytest.raises(NotFound):
        await lifecycle.finish(db, STORE, "run_missing", "failed", stop_reason="model_error")
