"""Tool approvals: a call the agent's policy holds waits for a person's decision.

- Asking (``ApprovalsDesk.decision``, the engine's ``ApprovalDesk``): the first time the call
  runs, an ``approvals`` row (bound to run, call id, tool and the SHA-256 of its canonical JSON
  arguments) and ``approval.requested`` commit in the call's transaction (a built-in's, with
  its ``tool.executing``) or one of their own. The call returns ``waiting_on`` the approval and
  the run parks (``waiting``, its store slot given back) like a parent waiting for children.
- Deciding (``decide``): one conditional UPDATE of a ``pending``, unexpired row, committed with
  ``approval.decided`` (who decided) and the run queued again (``run.resumed``) with its
  admission: a decision is applied once (a second gets 409) and never lost. The resumed run
  finds its steps' records, reaches the call again and reads the decision: approved runs the
  tool (with the approved arguments), rejected and expired return the reason to the model.
- Expiry: the sweep turns pending approvals past ``expires_at`` into ``expired`` (a rejection)
  the same way; a run that reaches an expired one before the sweep treats it so too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jsonschema
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.database import Database, core
from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import ApprovalRow
from loopwright.db.tables.base import utcnow
from loopwright.domain import store_settings
from loopwright.domain.events import NewEvent
from loopwright.engine.toolsets import Decision
from loopwright.engine.types import CallContext, ToolCall
from loopwright.errors import Conflict, NotFound, ValidationFailed
from loopwright.events import log
from loopwright.ids import new_id
from loopwright.runtime import lifecycle, toolbox
from loopwright.runtime.admission import Budget, admit_in
from loopwright.runtime.plan import RunPlan
from loopwright.runtime.services import RunServices

REJECTED_REASON = "the approval expired before anyone decided"


def arguments_hash(arguments: dict[str, Any]) -> str:
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


_OF_CALL = select(ApprovalRow).where(
    ApprovalRow.store_id == bindparam("store"),
    ApprovalRow.run_id == bindparam("run"),
    ApprovalRow.call_id == bindparam("call"),
)
_INSERT = insert(ApprovalRow)


def _decision(row: Any, call: ToolCall, tool: str, now: datetime) -> Decision:
    if row.tool != tool or row.arguments_hash != arguments_hash(call.arguments):
        return Decision("rejected", row.id, reason="the approval was given for another call")
    if row.status == "approved":
        return Decision("approved", row.id, arguments=row.decided_arguments)
    if row.status == "rejected":
        return Decision("rejected", row.id, reason=row.reason or "")
    if row.status == "expired" or row.expires_at <= now:
        return Decision("rejected", row.id, reason=REJECTED_REASON)
    return Decision("pending", row.id)


class ApprovalsDesk:
    """The engine's ``ApprovalDesk`` over the database, for one run."""

    def __init__(self, rt: RunServices, plan: RunPlan) -> None:
        self.rt = rt
        self.plan = plan
        self.ttl_s = store_settings.parse(plan.limits).approval_ttl_s

    async def decision(self, call: ToolCall, tool: str, ctx: CallContext) -> Decision:
        if isinstance(ctx.transaction, AsyncSession):
            return await self._decision_in(ctx.transaction, call, tool, ctx.index)
        try:
            async with self.rt.db.write(self.plan.store_id) as session:
                return await self._decision_in(session, call, tool, ctx.index)
        except IntegrityError:  # asked concurrently (a replay): read what won
            async with self.rt.db.write(self.plan.store_id) as session:
                return await self._decision_in(session, call, tool, ctx.index)

    async def _decision_in(
        self, session: AsyncSession, call: ToolCall, tool: str, step: int
    ) -> Decision:
        plan, now = self.plan, utcnow()
        params = {"store": plan.store_id, "run": plan.run_id, "call": call.call_id}
        row = (await core(session, _OF_CALL, params)).first()
        if row is not None:
            return _decision(row, call, tool, now)
        approval_id = new_id("apr")
        expires_at = now + timedelta(seconds=self.ttl_s)
        await core(
            session,
            _INSERT,
            {
                "id": approval_id,
                "store_id": plan.store_id,
                "run_id": plan.run_id,
                "session_id": plan.session_id,
                "agent_id": plan.agent_id,
                "step": step,
                "call_id": call.call_id,
                "tool": tool,
                "arguments": call.arguments,
                "arguments_hash": arguments_hash(call.arguments),
                "status": "pending",
                "decided_arguments": None,
                "reason": None,
                "decided_by": None,
                "created_at": now,
                "expires_at": expires_at,
                "decided_at": None,
            },
        )
        await log.append(
            session,
            plan.store_id,
            [
                NewEvent(
                    "approval.requested",
                    {
                        "approval_id": approval_id,
                        "step": step,
                        "call_id": call.call_id,
                        "tool": tool,
                        "arguments": call.arguments,
                        "expires_at": expires_at.isoformat(),
                    },
                    session_id=plan.session_id,
                    run_id=plan.run_id,
                )
            ],
        )
        return Decision("pending", approval_id)


_ONE = select(ApprovalRow).where(
    ApprovalRow.store_id == bindparam("store"), ApprovalRow.id == bindparam("approval")
)
_DECIDE = (
    update(ApprovalRow)
    .where(
        ApprovalRow.store_id == bindparam("store"),
        ApprovalRow.id == bindparam("approval"),
        ApprovalRow.status == "pending",
        ApprovalRow.expires_at > bindparam("now"),
    )
    .values(
        status=bindparam("new_status"),
        decided_arguments=bindparam("new_arguments"),
        reason=bindparam("new_reason"),
        decided_by=bindparam("by"),
        decided_at=bindparam("now"),
    )
    .returning(ApprovalRow.run_id, ApprovalRow.session_id, ApprovalRow.call_id)
)
_EXPIRE = (
    update(ApprovalRow)
    .where(
        ApprovalRow.store_id == bindparam("store"),
        ApprovalRow.id == bindparam("approval"),
        ApprovalRow.status == "pending",
        ApprovalRow.expires_at <= bindparam("now"),
    )
    .values(status="expired", reason=REJECTED_REASON, decided_at=bindparam("now"))
    .returning(ApprovalRow.run_id, ApprovalRow.session_id, ApprovalRow.call_id)
)
_DUE = select(ApprovalRow.store_id, ApprovalRow.id).where(
    ApprovalRow.status == "pending", ApprovalRow.expires_at <= bindparam("now")
)


@dataclass(frozen=True, slots=True)
class Decided:
    approval: ApprovalRow
    admitted: list[str]


async def get(db: Database, store_id: str, approval_id: str) -> ApprovalRow:
    async with db.read(store_id) as session:
        row = (await session.execute(_ONE, {"store": store_id, "approval": approval_id})).scalar()
    if row is None:
        raise NotFound.of("approval", approval_id)
    return row


async def check_arguments(
    rt: RunServices, store_id: str, tool: str, arguments: dict[str, Any]
) -> None:
    """Edited arguments must fit the tool's schema (422 with the problems if not)."""
    found = await toolbox.resolve(rt.db, store_id, [tool], secrets=rt.secrets, mcp=rt.mcp)
    resolved = next(iter(found.values()), None)
    if resolved is None:
        raise Conflict(f"tool {tool!r} is no longer available", details={"tool": tool})
    schema = resolved.definition.parameters_json_schema
    problems = [
        {"loc": ["body", "arguments", *map(str, e.absolute_path)], "message": e.message}
        for e in jsonschema.Draft202012Validator(schema).iter_errors(arguments)
    ]
    if problems:
        raise ValidationFailed(f"the arguments do not fit tool {tool!r}'s schema", details=problems)


async def decide(
    db: Database,
    store_id: str,
    approval_id: str,
    *,
    approve: bool,
    arguments: dict[str, Any] | None,
    reason: str | None,
    by: str,
    admit: Budget | None,
) -> Decided:
    """Approve or reject a pending approval once; 409 if decided or expired already."""
    now = utcnow()
    async with db.write(store_id) as session:
        params = {
            "store": store_id,
            "approval": approval_id,
            "now": now,
            "new_status": "approved" if approve else "rejected",
            "new_arguments": arguments,
            "new_reason": reason,
            "by": by,
        }
        row = (await core(session, _DECIDE, params)).first()
        if row is None:
            await _refuse(session, store_id, approval_id, now)
        assert row is not None
        payload: dict[str, Any] = {
            "approval_id": approval_id,
            "call_id": row.call_id,
            "decision": "approved" if approve else "rejected",
            "decided_by": by,
        }
        if arguments is not None:
            payload["arguments"] = arguments
        if reason is not None:
            payload["reason"] = reason
        admitted = await _announce_and_wake(session, store_id, row, payload, admit)
    return Decided(await get(db, store_id, approval_id), admitted)


async def _refuse(session: AsyncSession, store_id: str, approval_id: str, now: datetime) -> None:
    found = (await session.execute(_ONE, {"store": store_id, "approval": approval_id})).scalar()
    if found is None:
        raise NotFound.of("approval", approval_id)
    status = "expired" if found.status == "pending" else found.status
    raise Conflict(
        f"approval {approval_id!r} is {status}: it can no longer be decided",
        details={"approval_id": approval_id, "status": status},
    )


async def _announce_and_wake(
    session: AsyncSession, store_id: str, row: Any, payload: dict[str, Any], admit: Budget | None
) -> list[str]:
    await log.append(
        session,
        store_id,
        [NewEvent("approval.decided", payload, session_id=row.session_id, run_id=row.run_id)],
    )
    await lifecycle.wake_if_children_done(session, store_id, row.run_id, "approval")
    return await admit_in(session, store_id, admit) if admit else []


async def expire_due(db: Database, admit: Budget | None) -> list[tuple[str, list[str]]]:
    """Expire the pending approvals past their time (each a rejection, its run queued again);
    ``(store, admitted runs)`` for each."""
    now = utcnow()
    async with db.read(ALL_STORES) as session:
        due = [(r.store_id, r.id) for r in await core(session, _DUE, {"now": now})]
    woken: list[tuple[str, list[str]]] = []
    for store_id, approval_id in due:
        async with db.write(store_id) as session:
            params = {"store": store_id, "approval": approval_id, "now": now}
            row = (await core(session, _EXPIRE, params)).first()
            if row is None:
                continue  # decided meanwhile
            payload = {
                "approval_id": approval_id,
                "call_id": row.call_id,
                "decision": "expired",
                "reason": REJECTED_REASON,
            }
            woken.append(
                (store_id, await _announce_and_wake(session, store_id, row, payload, admit))
            )
    return woken


def listing(store_id: str, *, status: str | None, agent_id: str | None, run_id: str | None) -> Any:
    query = select(ApprovalRow).where(ApprovalRow.store_id == store_id)
    if status is not None:
        query = query.where(ApprovalRow.status == status)
    if agent_id is not None:
        query = query.where(ApprovalRow.agent_id == agent_id)
    if run_id is not None:
        query = query.where(ApprovalRow.run_id == run_id)
    return query
