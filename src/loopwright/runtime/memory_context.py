"""The run's long-term memories as a context source (agents with ``memory`` on).

The memories are chosen once per run, for the message that started it (``runtime/memory``),
and recorded with the run's first model step, in its transaction, with one more access for
each (``DbStepStore``): so a replay finds the record and neither chooses again nor counts the
accesses twice, and ``GET /runs/{id}/steps`` shows what the run was given and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.repos import memories
from loopwright.db.tables import MessageRow, RunStepRow
from loopwright.engine.history import HistoryItem
from loopwright.runtime import embeddings, memory
from loopwright.runtime.plan import RunPlan
from loopwright.runtime.services import RunServices


class MemoryContext:
    def __init__(self, rt: RunServices, plan: RunPlan, *, resumed: bool) -> None:
        self.rt = rt
        self.plan = plan
        self.resumed = resumed
        self.chosen: list[memory.Chosen] | None = None
        self.recorded = False  # the first step's record holds them already

    async def items(self) -> Sequence[HistoryItem]:
        if self.chosen is None:
            self.chosen = await self._choose()
        if not self.chosen:
            return []
        return [HistoryItem("memory", memory.render(self.chosen), {})]

    async def _choose(self) -> list[memory.Chosen]:
        plan = self.plan
        async with self.rt.db.read(plan.store_id) as session:
            if self.resumed:
                recorded = await session.scalar(
                    select(RunStepRow.memories).where(
                        RunStepRow.store_id == plan.store_id,
                        RunStepRow.run_id == plan.run_id,
                        RunStepRow.index == 0,
                    )
                )
                if recorded is not None:
                    self.recorded = True
                    return [memory.Chosen.from_json(c) for c in recorded]
            text = await self._message(session)
            query = await embeddings.query_for(
                self.rt, session, plan.store_id, plan.agent_id, text, plan.memory_budget
            )
            return await memory.choose(session, query)

    async def _message(self, session: AsyncSession) -> str:
        if self.plan.message_id is None:
            return ""
        found = await session.scalar(
            select(MessageRow.content).where(
                MessageRow.store_id == self.plan.store_id, MessageRow.id == self.plan.message_id
            )
        )
        return found or ""

    async def record(self, session: AsyncSession, at: datetime) -> list[dict[str, object]] | None:
        """In the first step's transaction: what to record, with the accesses counted."""
        if self.chosen is None or self.recorded:
            return None
        await memories.touch(session, self.plan.store_id, [c.memory_id for c in self.chosen], at)
        self.recorded = True
        return [c.to_json() for c in self.chosen]
