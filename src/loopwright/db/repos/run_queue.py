"""Where a queued run stands in its store's queue: what admission takes before it.

Admission (``runtime/admission.py``) starts the store's waiting session heads, highest
priority first, then oldest; a run that is not its session's head waits for the earlier run
of its session first. This module answers "how far back is it" with the same order, for
``GET /runs/{id}``. It is a snapshot: a run of higher priority sent later goes ahead of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from loopwright.db.database import core
from loopwright.db.tables import RunRow
from loopwright.domain.vocabulary import PRIORITY_VALUE, TERMINAL_RUN_STATUSES

_other = aliased(RunRow)
_earlier = aliased(RunRow)
_other_rank = case(PRIORITY_VALUE, value=_other.priority, else_=len(PRIORITY_VALUE))
_UNFINISHED = sorted(TERMINAL_RUN_STATUSES)

# Queued session heads that may start now and come first in admission's order.
_AHEAD = (
    select(func.count())
    .select_from(_other)
    .where(
        _other.store_id == bindparam("store"),
        _other.status == "queued",
        _other.id != bindparam("run"),
        or_(_other.not_before.is_(None), _other.not_before <= bindparam("now")),
        or_(
            _other_rank < bindparam("rank"),
            (_other_rank == bindparam("rank")) & (_other.id < bindparam("run")),
        ),
        ~exists().where(
            _earlier.store_id == _other.store_id,
            _earlier.session_id == _other.session_id,
            _earlier.id < _other.id,
            _earlier.status.not_in(_UNFINISHED),
        ),
    )
    .scalar_subquery()
)
_RUNNING = (
    select(func.count())
    .select_from(RunRow)
    .where(RunRow.store_id == bindparam("store"), RunRow.status == "running")
    .scalar_subquery()
)
_SESSION_HEAD = (
    select(RunRow.id)
    .where(
        RunRow.store_id == bindparam("store"),
        RunRow.session_id == bindparam("session"),
        RunRow.id < bindparam("run"),
        RunRow.status.not_in(_UNFINISHED),
    )
    .order_by(RunRow.id)
    .limit(1)
    .scalar_subquery()
)
_PLACE = select(_AHEAD.label("ahead"), _RUNNING.label("running"), _SESSION_HEAD.label("head"))


@dataclass(frozen=True, slots=True)
class QueuePlace:
    ahead: int
    """The store's queued runs that admission starts before this one (may start now, come
    first by priority, then age)."""
    running: int
    """The store's runs holding a slot now."""
    waits_for_run: str | None
    """The earlier unfinished run of its session, which must end before this one starts."""


async def queue_place(
    session: AsyncSession, store_id: str, run: RunRow, now: datetime
) -> QueuePlace:
    params = {
        "store": store_id,
        "run": run.id,
        "session": run.session_id,
        "rank": PRIORITY_VALUE.get(run.priority, len(PRIORITY_VALUE)),
        "now": now,
    }
    row = (await core(session, _PLACE, params)).one()
    return QueuePlace(ahead=int(row.ahead), running=int(row.running), waits_for_run=row.head)
