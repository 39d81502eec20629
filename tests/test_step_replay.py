"""A model step recorded twice (a run replayed while its first execution still ran): the
second meets the step record's unique key and returns the record that won. On PostgreSQL the
step's insert goes with its unit's ``COMMIT`` (``database.core_later``), so the key's error
comes from there, and must still be caught where the step store catches it."""

from __future__ import annotations

import time
import uuid
from typing import cast

from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
from pydantic_ai.usage import RequestUsage

from loopwright.bootstrap import DEMO_AGENT
from loopwright.db.database import Database
from loopwright.db.repos import agents, conversations, tenancy
from loopwright.db.tables import RunRow
from loopwright.engine.types import ModelStep, ToolCall
from loopwright.runtime.plan import RunPlan
from loopwright.runtime.services import RunServices
from loopwright.runtime.step_store import DbStepStore


async def a_run(db: Database) -> RunPlan:
    store_id = f"rp-{uuid.uuid4().hex[:8]}"
    run_id = f"run_{uuid.uuid4().hex[:12]}"
    async with db.write(store_id) as session:
        await tenancy.create_store(session, store_id, store_id)
        agent = await agents.create(session, store_id, dict(DEMO_AGENT))
        chat = await conversations.create_session(session, store_id, agent.id, "t", "queue")
        session.add(RunRow(id=run_id, store_id=store_id, session_id=chat.id, agent_id=agent.id))
    return RunPlan(
        store_id=store_id,
        run_id=run_id,
        session_id=chat.id,
        agent_id=agent.id,
        models=("fake:m",),
        system_prompt="",
        tools=("list_tasks",),
        temperature=None,
        max_steps=5,
        deadline=time.time() + 60,
    )


def steps(db: Database, plan: RunPlan) -> DbStepStore:
    services = cast(RunServices, type("Services", (), {"db": db})())
    return DbStepStore(services, plan, resumed=False, on_ended=lambda _: None, provider=str)


async def test_a_step_recorded_twice_returns_the_record_that_won(db: Database) -> None:
    plan = await a_run(db)
    response = ModelResponse(
        parts=[TextPart("looking"), ToolCallPart("list_tasks", {}, tool_call_id="c1")],
        usage=RequestUsage(input_tokens=3, output_tokens=2),
        model_name="m",
    )
    first = await steps(db, plan).record_model_step(0, response, 1.0, None)
    again = await steps(db, plan).record_model_step(0, response, 1.0, None)  # the replay's
    assert first == again == ModelStep(0, [ToolCall("c1", "list_tasks", {}, None)])
    async with db.read(plan.store_id) as session:
        messages = await conversations.history(session, plan.store_id, plan.session_id, plan.run_id)
    assert [kind for kind, *_ in messages] == ["assistant"]  # the replay's rolled back
