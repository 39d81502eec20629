"""Append to and read from a store's event log.

``seq`` is per store and assigned by incrementing ``stores.event_seq`` inside the appending
transaction. That row update holds the store's row lock until commit, so appenders to one store
commit in seq order on PostgreSQL as on SQLite, and a reader that has seen ``seq = n`` can never
later find a committed event with a smaller seq (a global auto-increment would not give this).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Select,
    and_,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db import json_codec
from loopwright.db.database import (
    DEFERRED_EVENTS,
    NOTIFY_ORIGIN,
    NOTIFY_QUEUED,
    PENDING_EVENTS,
    core,
    core_later,
    has_row_locks,
    savepoint_now,
    send_held_before_savepoint,
)
from loopwright.db.prepared import Prepared, prepare
from loopwright.db.tables import EventRow, RunRow, StoreRow
from loopwright.db.tables.base import utcnow
from loopwright.domain.events import Event, EventFilter, NewEvent
from loopwright.errors import NotFound
from loopwright.events import wire
from loopwright.telemetry import metrics

_BUMP_SEQ = prepare(
    update(StoreRow)
    .where(StoreRow.id == bindparam("store"))
    .values(event_seq=StoreRow.event_seq + bindparam("count"))
    .returning(StoreRow.event_seq)
)
NOTIFY_CHANNEL = "loopwright_events"
"""PostgreSQL's channel for appended events: ``c <origin> <first seq> <last seq> <store>``,
sent by the appending transaction, so delivered at its commit and in commit order; ``C``
carries the events themselves when they fit (``wire.notification``). An API-only process's
append that queues a run says ``q``/``Q`` (read as ``c``/``C``: the wake-up itself goes on
``QUEUED_CHANNEL``; workers of the release before it took it from here)."""
QUEUED_CHANNEL = "loopwright_queued"
"""PostgreSQL's channel for runs an API-only process queued: ``<origin> <store>``, sent by
the queueing transaction. Workers listen to it, and to ``NOTIFY_CHANNEL`` only while a
reader of theirs follows a store: a worker nobody reads from is not sent every event."""
_NOTIFY = (
    ", pg_notify('" + NOTIFY_CHANNEL + "', concat(CAST(:head AS text), event_seq - :count + 1,"
    " ' ', event_seq, CAST(:tail AS text)))"
)
_NOTIFY_QUEUED = _NOTIFY + ", pg_notify('" + QUEUED_CHANNEL + "', CAST(:wake AS text))"
_APPEND_PG = """
WITH bumped AS (
    UPDATE stores SET event_seq = event_seq + :count WHERE id = CAST(:store AS varchar)
    RETURNING event_seq{notify}
), added AS (
    INSERT INTO events (store_id, seq, type, session_id, run_id, payload, created_at)
    SELECT CAST(:store AS varchar), bumped.event_seq - :count + item.ord, item.value ->> 0,
        item.value ->> 1, item.value ->> 2, item.value -> 3, :created_at
    FROM bumped, json_array_elements(CAST(:items AS json)) WITH ORDINALITY AS item(value, ord)
)
SELECT COALESCE(
    (SELECT event_seq FROM bumped),
    CAST(current_setting('loopwright.append_to_a_store_that_is_gone') AS bigint)
) AS event_seq
"""
# No store row: the statement fails (an unknown setting, read only then), so the transaction
# the append rides with is never committed without it (it often goes with the ``COMMIT``).


def _append_pg(notify: str) -> Prepared:
    return prepare(
        text(_APPEND_PG.format(notify=notify))
        .bindparams(bindparam("created_at", type_=DateTime(timezone=True)))
        .columns(event_seq=BigInteger)
    )


_BUMP_AND_INSERT = _append_pg("")
"""PostgreSQL's append in one round trip: the seq bump and the rows (the events as one JSON
array of ``[type, session, run, payload]``); with listeners, the notification too."""
_BUMP_AND_INSERT_NOTIFY = _append_pg(_NOTIFY)
_BUMP_AND_INSERT_NOTIFY_QUEUED = _append_pg(_NOTIFY_QUEUED)
_INSERT_EVENTS = prepare(insert(EventRow))
_HIGH_WATER = prepare(select(StoreRow.event_seq).where(StoreRow.id == bindparam("store")))
_STORES_LOCKED = "loopwright.stores_locked"
_DEFERRED = DEFERRED_EVENTS


async def append(session: AsyncSession, store_id: str, new: Sequence[NewEvent]) -> list[Event]:
    """Append events in the caller's transaction; they are published once it commits.

    Prebuilt statements on the transaction's connection: on PostgreSQL one, which goes with
    the transaction's next statement or its ``COMMIT`` (``_BUMP_AND_INSERT``,
    ``database.core_later``): the log is written several times per run step, and the ORM's
    per-statement work, then each statement's round trip, cost more than the statements.
    The events returned get their seqs when the append runs: at the latest once the
    transaction commits."""
    deferred: list[tuple[str, NewEvent]] | None = session.info.get(_DEFERRED)
    if deferred:  # the transaction's deferred events go first, in the same statements
        if any(store != store_id for store, _ in deferred):
            await flush(session)
        else:
            new = [item for _, item in deferred] + list(new)
            deferred.clear()
    if not new:
        return []
    return await _append(session, store_id, new)


async def defer(session: AsyncSession, store_id: str, new: Sequence[NewEvent]) -> None:
    """On SQLite, append ``new`` with the transaction's next ``append`` (or its ``flush``), in
    the same two statements: a step that writes two events in one transaction (a built-in
    tool's ``tool.executing`` and its result, a final answer and ``run.completed``) writes
    them in one append. Their seqs come before those of the events appended with them, and
    nothing can read them before the transaction commits, so the log is the same. The
    transaction must ``flush`` before it commits (``Database.write`` refuses to commit
    otherwise).

    On PostgreSQL they are appended at once: an append takes the store row's lock, and the
    step's transaction must take it where it always has, before the run rows it updates
    (taken after them, a final step deadlocked with a team's other runs)."""
    if has_row_locks(session):
        await append(session, store_id, new)
        return
    session.info.setdefault(_DEFERRED, []).extend((store_id, item) for item in new)


async def flush(session: AsyncSession) -> None:
    """Append what ``defer`` holds, if anything."""
    deferred: list[tuple[str, NewEvent]] = session.info.get(_DEFERRED) or []
    while deferred:
        store_id = deferred[0][0]
        batch = [item for store, item in deferred if store == store_id]
        deferred[:] = [(store, item) for store, item in deferred if store != store_id]
        await _append(session, store_id, batch)


async def _append(session: AsyncSession, store_id: str, new: Sequence[NewEvent]) -> list[Event]:
    began = time.perf_counter()
    now = utcnow()
    appended: list[Event] = []

    def appended_up_to(last: int | None) -> None:
        if last is None:
            raise NotFound.of("store", store_id)
        first = last - len(new) + 1
        appended.extend(
            Event(
                store_id=store_id,
                seq=first + i,
                type=item.type,
                session_id=item.session_id,
                run_id=item.run_id,
                created_at=now,
                payload=item.payload,
            )
            for i, item in enumerate(new)
        )
        session.info.setdefault(PENDING_EVENTS, []).extend(appended)
        metrics.observe_append(time.perf_counter() - began)

    # the store row's lock is taken by the time anything after this reaches the database
    session.info.setdefault(_STORES_LOCKED, set()).add(store_id)
    if has_row_locks(session):
        await _bump_and_insert(session, store_id, new, now, appended_up_to)
    else:
        appended_up_to(await _bump_then_insert(session, store_id, new, now))
    return appended


async def _bump_and_insert(
    session: AsyncSession,
    store_id: str,
    new: Sequence[NewEvent],
    now: datetime,
    then: Callable[[int | None], None],
) -> None:
    """PostgreSQL: one statement (``_BUMP_AND_INSERT``), sent with the transaction's next;
    ``then`` takes the last seq it handed out."""
    items = json_codec.dumps([[i.type, i.session_id, i.run_id, i.payload] for i in new])
    params = {"store": store_id, "count": len(new), "items": items, "created_at": now}
    statement = _BUMP_AND_INSERT
    origin = session.info.get(NOTIFY_ORIGIN)
    if origin is not None:  # with listeners: the same statement notifies them at commit
        queued = session.info.get(NOTIFY_QUEUED) and any(i.type == "run.queued" for i in new)
        params["head"], params["tail"] = wire.notification(
            "q" if queued else "c", origin, store_id, items, now
        )
        statement = _BUMP_AND_INSERT_NOTIFY
        if queued:
            params["wake"] = f"{origin} {store_id}"
            statement = _BUMP_AND_INSERT_NOTIFY_QUEUED
    await core_later(
        session,
        statement,
        params,
        lambda result: then(result.scalar_one_or_none()),
        savepoint_safe=True,  # it fails only if its store is gone
    )


async def _bump_then_insert(
    session: AsyncSession, store_id: str, new: Sequence[NewEvent], now: datetime
) -> int | None:
    """SQLite: the seq bump, then the rows (two statements on the loop thread, no round
    trips); the last seq handed out (None: no such store)."""
    last: int | None = (
        await core(session, _BUMP_SEQ, {"store": store_id, "count": len(new)})
    ).scalar_one_or_none()
    if last is None:
        return None
    first = last - len(new) + 1
    await core(
        session,
        _INSERT_EVENTS,
        [
            {
                "store_id": store_id,
                "seq": first + i,
                "type": item.type,
                "session_id": item.session_id,
                "run_id": item.run_id,
                "payload": item.payload,
                "created_at": now,
            }
            for i, item in enumerate(new)
        ],
    )
    return last


def holds_store_row(session: AsyncSession, store_id: str) -> bool:
    """Whether this transaction appended to the store's log, and so holds the lock its update
    of the store's row took (``FOR NO KEY UPDATE`` on PostgreSQL) until it ends."""
    return store_id in session.info.get(_STORES_LOCKED, ())


@asynccontextmanager
async def savepoint(session: AsyncSession) -> AsyncIterator[None]:
    """A savepoint whose rollback also takes back the events appended inside it: their rows
    and seqs are gone, so they must not be published when the outer transaction commits."""
    await send_held_before_savepoint(session)
    pending: list[Event] = session.info.setdefault(PENDING_EVENTS, [])
    kept = len(pending)
    locked: set[str] = session.info.setdefault(_STORES_LOCKED, set())
    locked_before = set(locked)
    deferred: list[tuple[str, NewEvent]] = session.info.setdefault(_DEFERRED, [])
    deferred_before = list(deferred)
    try:
        async with session.begin_nested():
            await savepoint_now(session)
            yield
    except BaseException:
        del pending[kept:]
        locked.intersection_update(locked_before)  # a rolled-back savepoint's locks go with it
        # deferred events an append inside flushed lost their rows with it: defer them again
        deferred[:] = deferred_before
        raise


async def high_water(session: AsyncSession, store_id: str) -> int:
    """The last seq whose event (and every earlier one) is committed and visible."""
    value: int | None = (await core(session, _HIGH_WATER, {"store": store_id})).scalar()
    if value is None:
        raise NotFound.of("store", store_id)
    return value


async def read_range(
    session: AsyncSession,
    store_id: str,
    after: int,
    upto: int,
    where: EventFilter,
    limit: int,
) -> list[Event]:
    params = _range_params(store_id, after, where, limit)
    params["upto"] = upto
    rows: Iterable[Sequence[Any]] = await core(session, _range(_shape(where), False), params)
    return [_event(row) for row in rows]


async def read_to_high_water(
    session: AsyncSession, store_id: str, after: int, where: EventFilter, limit: int
) -> tuple[list[Event], int]:
    """``read_range`` up to the store's high-water, and that high-water, in one statement
    (one round trip: a stream's backlog, a page of the log); ``NotFound`` if the store is
    gone."""
    params = _range_params(store_id, after, where, limit)
    rows = list(await core(session, _range(_shape(where), True), params))
    if not rows:
        raise NotFound.of("store", store_id)
    upto: int = rows[0][0]
    return [_event(row[1:]) for row in rows if row[2] is not None], upto


def _range_params(store_id: str, after: int, where: EventFilter, limit: int) -> dict[str, object]:
    params: dict[str, object] = {"store_id": store_id, "after": after, "limit": limit}
    if where.session_id is not None:
        params["session_id"] = where.session_id
    if where.run_id is not None:
        params["run_id"] = where.run_id
    if where.parent_run_id is not None:
        params["parent_run_id"] = where.parent_run_id
    for index, name in enumerate(sorted(where.types) if where.types is not None else ()):
        params[f"type_{index}"] = name
    return params


def _event(row: Sequence[Any]) -> Event:
    return Event(
        store_id=row[0],
        seq=row[1],
        type=row[2],
        session_id=row[3],
        run_id=row[4],
        created_at=row[5],
        payload=row[6],
    )


_RangeShape = tuple[bool, bool, int | None, bool]
_ranges: dict[tuple[_RangeShape, bool], Prepared] = {}


def _shape(where: EventFilter) -> _RangeShape:
    """Which fields a filter sets, and how many types it lists."""
    return (
        where.session_id is not None,
        where.run_id is not None,
        None if where.types is None else len(where.types),
        where.parent_run_id is not None,
    )


def _range(shape: _RangeShape, to_high_water: bool) -> Prepared:
    """The read of a range of the log for a filter of this shape, prepared once: a stream's
    backlog and every page a reader follows. ``to_high_water``: up to the store's committed
    seq, read in the same statement and returned first (the store's row joined to its
    events: one row of nulls when no event matches)."""
    found = _ranges.get((shape, to_high_water))
    if found is not None:
        return found
    session, run, types, parent = shape
    upto = StoreRow.event_seq if to_high_water else bindparam("upto")
    conditions = [
        EventRow.store_id == bindparam("store_id"),
        EventRow.seq > bindparam("after"),
        EventRow.seq <= upto,
    ]
    if session:
        conditions.append(EventRow.session_id == bindparam("session_id"))
    if run:
        conditions.append(EventRow.run_id == bindparam("run_id"))
    if types is not None:
        conditions.append(EventRow.type.in_([bindparam(f"type_{i}") for i in range(types)]))
    if parent:
        children = select(RunRow.id).where(
            RunRow.store_id == bindparam("store_id"),
            RunRow.parent_run_id == bindparam("parent_run_id"),
        )
        conditions.append(EventRow.run_id.in_(children))
    columns = (
        EventRow.store_id,
        EventRow.seq,
        EventRow.type,
        EventRow.session_id,
        EventRow.run_id,
        EventRow.created_at,
        EventRow.payload,
    )
    if to_high_water:
        query = (
            select(StoreRow.event_seq, *columns)
            .select_from(StoreRow)
            .outerjoin(EventRow, and_(*conditions))
            .where(StoreRow.id == bindparam("store_id"))
        )
    else:
        query = select(*columns).where(*conditions)
    found = _ranges[(shape, to_high_water)] = prepare(
        query.order_by(EventRow.seq).limit(bindparam("limit"))
    )
    return found


def _children(store_id: str, parent_run_id: str) -> Select[str]:
    return select(RunRow.id).where(
        RunRow.store_id == store_id, RunRow.parent_run_id == parent_run_id
    )


async def children_of(session: AsyncSession, store_id: str, parent_run_id: str) -> set[str]:
    """The child runs a ``parent_run_id`` filter starts with."""
    return set(await session.scalars(_children(store_id, parent_run_id)))
