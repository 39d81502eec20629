"""Usage counters: take an amount from several limits at once, all or none, in one statement.

``take`` is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE used + amount <= cap RETURNING
key`` over the given counters (in key order, so two transactions lock them in the same order):
a counter whose cap the amount would pass is left as it is and not returned. The row lock the
statement takes (PostgreSQL) or the write transaction (SQLite) makes check and take one step,
so a limit holds across every process and machine on the database. The caller rolls back its
transaction when a counter was refused, so the others are not taken either.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import String, bindparam, column, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.database import core
from loopwright.db.prepared import Prepared, prepare
from loopwright.db.tables import UsageCounterRow


@dataclass(frozen=True, slots=True)
class Take:
    key: str
    amount: int
    cap: int
    expires_at: int  # epoch seconds: the sweep deletes the counter after this


_TAKE_SQL: dict[int, Prepared] = {}


def _take_statement(count: int) -> Prepared:
    """The statement for ``count`` counters, prepared (a message takes one each turn)."""
    statement = _TAKE_SQL.get(count)
    if statement is None:
        rows = ", ".join(f"(:store, :k{i}, :n{i}, :c{i}, :e{i})" for i in range(count))
        statement = prepare(
            text(
                "INSERT INTO usage_counters (store_id, key, used, cap, expires_at) "
                f"VALUES {rows} ON CONFLICT (store_id, key) DO UPDATE "
                "SET used = usage_counters.used + excluded.used, cap = excluded.cap "
                "WHERE usage_counters.used + excluded.used <= excluded.cap "
                "RETURNING key"
            ).columns(column("key", String))
        )
        _TAKE_SQL[count] = statement
    return statement


async def take(session: AsyncSession, store_id: str, takes: Sequence[Take]) -> set[str]:
    """Take every amount; the keys refused (their cap would be passed). An amount over its
    cap on its own is refused without asking the database."""
    refused = {t.key for t in takes if t.amount > t.cap}
    asked = sorted((t for t in takes if t.key not in refused), key=lambda t: t.key)
    if not asked:
        return refused
    params: dict[str, object] = {"store": store_id}
    for i, t in enumerate(asked):
        params.update({f"k{i}": t.key, f"n{i}": t.amount, f"c{i}": t.cap, f"e{i}": t.expires_at})
    found = await core(session, _take_statement(len(asked)), params)
    taken = set(found.scalars())
    return refused | {t.key for t in asked if t.key not in taken}


_ADD = (
    update(UsageCounterRow)
    .where(
        UsageCounterRow.store_id == bindparam("store"),
        UsageCounterRow.key.in_(bindparam("keys", expanding=True)),
    )
    .values(used=UsageCounterRow.used + bindparam("amount"))
)


async def add(session: AsyncSession, store_id: str, keys: Sequence[str], amount: int) -> None:
    """Add ``amount`` (negative: give back) to counters taken before, without a cap."""
    if keys and amount:
        await core(session, _ADD, {"store": store_id, "keys": sorted(keys), "amount": amount})


_READ = select(UsageCounterRow.key, UsageCounterRow.used).where(
    UsageCounterRow.store_id == bindparam("store"),
    UsageCounterRow.key.in_(bindparam("keys", expanding=True)),
)
_READ_PREFIX = select(UsageCounterRow.key, UsageCounterRow.used).where(
    UsageCounterRow.store_id == bindparam("store"),
    UsageCounterRow.key.like(bindparam("prefix")),
)


async def read(session: AsyncSession, store_id: str, keys: Sequence[str]) -> dict[str, int]:
    found = await core(session, _READ, {"store": store_id, "keys": list(keys)})
    return {row.key: int(row.used) for row in found}


async def read_like(session: AsyncSession, store_id: str, pattern: str) -> dict[str, int]:
    """Counters whose key matches a LIKE ``pattern`` (every agent's tokens of a day)."""
    found = await core(session, _READ_PREFIX, {"store": store_id, "prefix": pattern})
    return {row.key: int(row.used) for row in found}


_EXPIRED = delete(UsageCounterRow).where(UsageCounterRow.expires_at < bindparam("now"))


async def delete_expired(session: AsyncSession) -> None:
    await core(session, _EXPIRED, {"now": int(time.time())})
