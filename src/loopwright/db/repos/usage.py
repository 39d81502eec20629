"""A store's usage over time: runs by status, tokens and errors per hour or day, computed in SQL.

Three grouped queries over one bounded time range (the caller bounds it): runs by the time they
were requested, tokens by the time their model step was recorded, failed tool calls by the time
they were made. Each row is keyed by the bucket's start and, when asked, a group:

- ``agent``: the run's agent (tool calls carry their agent);
- ``model``: ``provider:model`` as it answered — for tokens the step's own model (a fallback's
  tokens count for the fallback), for runs and tool calls the model that answered the run's first
  step (a run that never reached a model has no model: ``None``).

Buckets are UTC and computed by the database (``strftime`` on SQLite, ``date_trunc`` on
PostgreSQL), so no row leaves the database: the answer has one row per bucket, group and status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, String, and_, func, null, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from loopwright.db.tables import AgentRow, RunRow, RunStepRow, ToolCallRow

Bucket = Literal["hour", "day"]
Column = ColumnElement[Any] | InstrumentedAttribute[Any]
GroupBy = Literal["agent", "model", "store"]  # "store": the operator's view only
FAILED_RUN_STATUSES = ("failed", "timed_out")
FAILED_TOOL_OUTCOME = "error"


class BucketStart(FunctionElement[str]):
    """``BucketStart(column, "hour"|"day")``: the UTC start of the column's bucket, as the text
    ``YYYY-MM-DD HH:MM:SS`` on both databases."""

    type = String()
    inherit_cache = True
    # ``unit`` is part of the statement cache's key: without it, an hourly query after a daily
    # one (or the other way round) reused the other's compiled SQL in the same process.
    _traverse_internals = [
        *FunctionElement._traverse_internals,
        ("unit", InternalTraversal.dp_string),
    ]

    def __init__(self, column: Column, unit: Bucket) -> None:
        self.unit = unit
        super().__init__(column)


@compiles(BucketStart, "sqlite")
def _bucket_sqlite(element: BucketStart, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    pattern = "%Y-%m-%d %H:00:00" if element.unit == "hour" else "%Y-%m-%d 00:00:00"
    return f"strftime('{pattern}', {column})"


@compiles(BucketStart, "postgresql")
def _bucket_postgresql(element: BucketStart, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    unit = "hour" if element.unit == "hour" else "day"
    return f"to_char(date_trunc('{unit}', {column} AT TIME ZONE 'UTC'), 'YYYY-MM-DD HH24:MI:SS')"


@dataclass(slots=True)
class Counts:
    """What happened in one bucket (or in total) for one group."""

    runs: dict[str, int] = field(default_factory=dict)  # by status
    input_tokens: int = 0
    output_tokens: int = 0
    failed_runs: int = 0  # failed or timed out
    failed_tool_calls: int = 0

    def add(self, other: Counts) -> None:
        for status, n in other.runs.items():
            self.runs[status] = self.runs.get(status, 0) + n
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.failed_runs += other.failed_runs
        self.failed_tool_calls += other.failed_tool_calls


@dataclass(slots=True)
class Series:
    group: str | None
    label: str | None
    points: dict[datetime, Counts] = field(default_factory=dict)

    def at(self, start: datetime) -> Counts:
        return self.points.setdefault(start, Counts())


async def usage(
    session: AsyncSession,
    store_id: str,
    *,
    since: datetime,
    until: datetime,
    bucket: Bucket,
    group_by: GroupBy | None,
) -> list[Series]:
    """The store's series in ``[since, until)``, one per group (one with group ``None`` when
    ``group_by`` is None), each with only the buckets where something happened."""
    return await _usage(session, store_id, since, until, bucket, group_by)


async def usage_across_stores(
    session: AsyncSession,
    *,
    since: datetime,
    until: datetime,
    bucket: Bucket,
    group_by: Literal["store", "model"] | None,
) -> list[Series]:
    """The operator's view: ``usage`` over every store, per store or model or in all."""
    return await _usage(session, None, since, until, bucket, group_by)


async def _usage(
    session: AsyncSession,
    store_id: str | None,
    since: datetime,
    until: datetime,
    bucket: Bucket,
    group_by: GroupBy | None,
) -> list[Series]:
    found: dict[str | None, Series] = {}

    def series(group: str | None) -> Series:
        return found.setdefault(group, Series(group=group, label=group))

    for start, group, status, n in await session.execute(
        _runs_query(store_id, since, until, bucket, group_by)
    ):
        counts = series(group).at(_parse(start))
        counts.runs[status] = n
        if status in FAILED_RUN_STATUSES:
            counts.failed_runs += n
    for start, group, input_tokens, output_tokens in await session.execute(
        _tokens_query(store_id, since, until, bucket, group_by)
    ):
        counts = series(group).at(_parse(start))
        counts.input_tokens += int(input_tokens or 0)
        counts.output_tokens += int(output_tokens or 0)
    for start, group, n in await session.execute(
        _tool_errors_query(store_id, since, until, bucket, group_by)
    ):
        series(group).at(_parse(start)).failed_tool_calls += n
    if group_by == "agent" and store_id is not None:
        names = await _agent_names(session, store_id, [g for g in found if g is not None])
        for group, one in found.items():
            one.label = names.get(group or "", group)
    return sorted(found.values(), key=lambda s: (s.group is None, s.label or ""))


_NO_GROUP: ColumnElement[Any] = null()


def _parse(start: str) -> datetime:
    return datetime.fromisoformat(start).replace(tzinfo=UTC)


def _first_step() -> Any:
    return aliased(RunStepRow, name="first_step")


def _model_of(step: Any) -> ColumnElement[str]:
    return func.coalesce(step.provider, "") + ":" + func.coalesce(step.model, "")


def _joined_first_step(store: Column, step: Any, run_id: Column) -> Any:
    return and_(step.store_id == store, step.run_id == run_id, step.index == 0)


def _in_store(column: Column, store_id: str | None) -> ColumnElement[bool]:
    return column == store_id if store_id is not None else true()


def _runs_query(
    store_id: str | None, since: datetime, until: datetime, bucket: Bucket, group_by: GroupBy | None
) -> Any:
    start = BucketStart(RunRow.created_at, bucket).label("start")
    where = (
        _in_store(RunRow.store_id, store_id),
        RunRow.created_at >= since,
        RunRow.created_at < until,
    )
    if group_by == "model":
        step = _first_step()
        group: Column = _model_of(step)
        source: Any = RunRow.__table__.outerjoin(
            step, _joined_first_step(RunRow.store_id, step, RunRow.id)
        )
        # a run without a first step has no model (not ":")
        group = func.nullif(group, ":")
    elif group_by == "agent":
        group, source = RunRow.agent_id, RunRow.__table__
    elif group_by == "store":
        group, source = RunRow.store_id, RunRow.__table__
    else:
        group, source = _NO_GROUP, RunRow.__table__
    return (
        select(start, group.label("grp"), RunRow.status, func.count())
        .select_from(source)
        .where(*where)
        .group_by(start, *_grouped(group), RunRow.status)
    )


def _tokens_query(
    store_id: str | None, since: datetime, until: datetime, bucket: Bucket, group_by: GroupBy | None
) -> Any:
    start = BucketStart(RunStepRow.created_at, bucket).label("start")
    source: Any = RunStepRow.__table__
    if group_by == "model":
        group: Column = _model_of(RunStepRow)
    elif group_by == "agent":
        group = RunRow.agent_id
        source = source.join(
            RunRow, and_(RunRow.store_id == RunStepRow.store_id, RunRow.id == RunStepRow.run_id)
        )
    elif group_by == "store":
        group = RunStepRow.store_id
    else:
        group = _NO_GROUP
    return (
        select(
            start,
            group.label("grp"),
            func.sum(RunStepRow.input_tokens),
            func.sum(RunStepRow.output_tokens),
        )
        .select_from(source)
        .where(
            _in_store(RunStepRow.store_id, store_id),
            RunStepRow.created_at >= since,
            RunStepRow.created_at < until,
        )
        .group_by(start, *_grouped(group))
    )


def _tool_errors_query(
    store_id: str | None, since: datetime, until: datetime, bucket: Bucket, group_by: GroupBy | None
) -> Any:
    start = BucketStart(ToolCallRow.created_at, bucket).label("start")
    source: Any = ToolCallRow.__table__
    if group_by == "model":
        step = _first_step()
        group: Column = func.nullif(_model_of(step), ":")
        source = source.outerjoin(
            step, _joined_first_step(ToolCallRow.store_id, step, ToolCallRow.run_id)
        )
    elif group_by == "agent":
        group = ToolCallRow.agent_id
    elif group_by == "store":
        group = ToolCallRow.store_id
    else:
        group = _NO_GROUP
    return (
        select(start, group.label("grp"), func.count())
        .select_from(source)
        .where(
            _in_store(ToolCallRow.store_id, store_id),
            ToolCallRow.outcome == FAILED_TOOL_OUTCOME,
            ToolCallRow.created_at >= since,
            ToolCallRow.created_at < until,
        )
        .group_by(start, *_grouped(group))
    )


def _grouped(group: Column) -> tuple[Column, ...]:
    """The group as a GROUP BY term: none when there is no group (PostgreSQL refuses a
    constant there)."""
    return () if group is _NO_GROUP else (group,)


async def _agent_names(
    session: AsyncSession, store_id: str, agent_ids: Sequence[str]
) -> dict[str, str]:
    if not agent_ids:
        return {}
    rows = await session.execute(
        select(AgentRow.id, AgentRow.name).where(
            AgentRow.store_id == store_id, AgentRow.id.in_(list(agent_ids))
        )
    )
    return {agent_id: name for agent_id, name in rows}


UNFINISHED = ("queued", "running", "waiting")


async def unfinished_runs(session: AsyncSession) -> list[tuple[str, str, int, datetime]]:
    """The operator's view (every store): runs not ended, by store and status, with the
    oldest one's creation time. Reads the status indexes only."""
    rows = await session.execute(
        select(RunRow.store_id, RunRow.status, func.count(), func.min(RunRow.created_at))
        .where(RunRow.status.in_(UNFINISHED))
        .group_by(RunRow.store_id, RunRow.status)
    )
    return [(store, status, int(n), oldest) for store, status, n, oldest in rows]
