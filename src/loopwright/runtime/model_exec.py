"""The model step: rebuild the context, stream the model, persist the reply in one transaction.

Idempotent per ``(run_id, index)``: a step that already committed its reply returns what it
recorded, so a resumed run never sends a completed model request again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from pydantic_ai.messages import ModelResponse, TextPart, ThinkingPart
from pydantic_ai.settings import ModelSettings
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.database import core
from loopwright.db.repos import conversations
from loopwright.db.tables import RunStepRow
from loopwright.db.tables.base import utcnow
from loopwright.domain.events import Event, NewEvent
from loopwright.engine.calls import tool_calls_of
from loopwright.engine.history import HistoryItem, build_context, dump_response
from loopwright.engine.turn import FINAL_ANSWER, ModelStep, ToolCall
from loopwright.errors import LoopwrightError
from loopwright.events import log
from loopwright.ids import new_id
from loopwright.llm import ModelDelta, ProviderError, answered_by
from loopwright.runtime import lifecycle, toolbox
from loopwright.runtime.local_runs import RunCancelled
from loopwright.runtime.plan import RunPlan
from loopwright.runtime.services import RunServices

_PAST_DEADLINE = "the run's time limit passed"


@dataclass(frozen=True, slots=True)
class ModelStepDone:
    step: ModelStep
    ended: lifecycle.Ended | None = None
    """A final answer: the run's completion committed with it."""


async def run_model_step(
    rt: RunServices, plan: RunPlan, index: int, *, resumed: bool
) -> ModelStepDone:
    """``resumed``: the run started before, so this step may already have its record."""
    async with rt.db.read() as session:
        recorded = await _recorded(session, plan, index) if resumed else None
        if recorded is not None:
            return ModelStepDone(recorded)
        remaining = plan.deadline - time.time()
        if remaining <= 0:
            return ModelStepDone(ModelStep(index, "timed_out", error=_PAST_DEADLINE))
        rows = await conversations.history(session, plan.store_id, plan.session_id, plan.run_id)
        try:
            client = await rt.models.client(session, plan.store_id, plan.models)
        except LoopwrightError as exc:
            return ModelStepDone(ModelStep(index, "failed", error=exc.message))
    tools = await toolbox.resolve(rt.db, plan.store_id, plan.tools, secrets=rt.secrets, mcp=rt.mcp)
    definitions = [tool.definition for tool in tools.values()]
    context = build_context(plan.system_prompt, [HistoryItem(*row) for row in rows])
    settings = ModelSettings(temperature=plan.temperature) if plan.temperature is not None else {}

    async def on_delta(delta: ModelDelta) -> None:
        kind = "llm.text_delta" if delta.kind == "text" else "llm.reasoning_delta"
        rt.hub.publish(
            [
                Event(
                    store_id=plan.store_id,
                    seq=None,
                    type=kind,
                    session_id=plan.session_id,
                    run_id=plan.run_id,
                    created_at=utcnow(),
                    payload={"step": index, "delta": delta.text},
                )
            ]
        )

    budget = min(rt.settings.model_timeout_s, remaining)
    started = time.perf_counter()
    try:
        response = await rt.local.guard(
            plan.run_id,
            _with_timeout(client.complete(context, definitions, settings, on_delta), budget),
        )
    except TimeoutError:
        if time.time() >= plan.deadline:
            return ModelStepDone(ModelStep(index, "timed_out", error=_PAST_DEADLINE))
        return ModelStepDone(
            ModelStep(index, "failed", error=f"the model did not answer within {budget:.0f} s")
        )
    except ProviderError as exc:
        return ModelStepDone(ModelStep(index, "failed", error=f"{exc.provider}: {exc.message}"))
    except RunCancelled:
        return ModelStepDone(ModelStep(index, "failed", error="cancelled"))
    latency_ms = (time.perf_counter() - started) * 1000
    return await _persist(rt, plan, index, response, client.provider, latency_ms)


async def _with_timeout(work: Any, seconds: float) -> ModelResponse:
    async with asyncio.timeout(seconds):
        result: ModelResponse = await work
    return result


_RECORDED = select(RunStepRow.tool_calls).where(
    RunStepRow.store_id == bindparam("store"),
    RunStepRow.run_id == bindparam("run"),
    RunStepRow.index == bindparam("step"),
)


_INSERT_STEP = insert(RunStepRow)


async def _recorded(session: AsyncSession, plan: RunPlan, index: int) -> ModelStep | None:
    found = await core(
        session, _RECORDED, {"store": plan.store_id, "run": plan.run_id, "step": index}
    )
    row = found.first()
    if row is None:
        return None
    return ModelStep(index, "ok", tool_calls=[ToolCall(**c) for c in row.tool_calls])


async def _persist(
    rt: RunServices,
    plan: RunPlan,
    index: int,
    response: ModelResponse,
    provider: str,
    latency_ms: float,
) -> ModelStepDone:
    calls = tool_calls_of(response)
    text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
    thinking = "".join(p.content for p in response.parts if isinstance(p, ThinkingPart))
    usage = response.usage
    provider_name = answered_by(response, provider)
    call_dicts = [
        {
            "call_id": c.call_id,
            "name": c.name,
            "arguments": c.arguments,
            "arguments_error": c.arguments_error,
        }
        for c in calls
    ]
    try:
        async with rt.db.write() as session:
            if thinking:
                await conversations.insert_message(
                    session,
                    plan.store_id,
                    session_id=plan.session_id,
                    run_id=plan.run_id,
                    kind="reasoning",
                    content=thinking,
                    data={"step": index},
                )
            message_id = await conversations.insert_message(
                session,
                plan.store_id,
                session_id=plan.session_id,
                run_id=plan.run_id,
                kind="assistant",
                content=text,
                data={"step": index, "response": dump_response(response), "tool_calls": call_dicts},
                provider=provider_name,
                model=response.model_name,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                latency_ms=latency_ms,
            )
            await core(
                session,
                _INSERT_STEP,
                {
                    "id": new_id("stp"),
                    "store_id": plan.store_id,
                    "run_id": plan.run_id,
                    "index": index,
                    "provider": provider_name,
                    "model": response.model_name,
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "latency_ms": latency_ms,
                    "tool_calls": call_dicts,
                },
            )
            await conversations.count_step(
                session,
                plan.store_id,
                plan.run_id,
                steps=index + 1,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
            )
            await log.append(
                session,
                plan.store_id,
                [
                    NewEvent(
                        "llm.response_received",
                        {
                            "step": index,
                            "message_id": message_id,
                            "text": text,
                            "reasoning": thinking or None,
                            "tool_calls": call_dicts,
                            "usage": {
                                "input_tokens": usage.input_tokens,
                                "output_tokens": usage.output_tokens,
                            },
                            "latency_ms": round(latency_ms, 1),
                            "provider": provider_name,
                            "model": response.model_name,
                        },
                        session_id=plan.session_id,
                        run_id=plan.run_id,
                    )
                ],
            )
            ended = None
            if not calls:
                ended = await lifecycle.end(
                    session,
                    plan.store_id,
                    plan.run_id,
                    FINAL_ANSWER.status,
                    stop_reason=FINAL_ANSWER.stop_reason,
                    admit=rt.admitter.budget(),
                )
    except IntegrityError:
        async with rt.db.read() as session:  # a concurrent replay committed first
            recorded = await _recorded(session, plan, index)
        if recorded is None:
            raise
        return ModelStepDone(recorded)
    return ModelStepDone(ModelStep(index, "ok", tool_calls=calls), ended=ended)
