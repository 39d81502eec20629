"""Every event the suite produces is checked against its type's model.

The session's servers (``live`` on SQLite, ``live_pg`` on PostgreSQL) report to one
``EventAudit``: once a server has stopped, every event of its database is read the way the
events route reads it and validated with ``validate_event``; token deltas, which are never
stored, are validated as the in-process server's hub publishes them. The session fails at its
end with the list of invalid events, grouped by type and error.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from loopwright.db.database import Database
from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import StoreRow
from loopwright.domain.events import EPHEMERAL_TYPES, Event, EventFilter
from loopwright.domain.public_events import validate_event
from loopwright.events import log
from loopwright.events.hub import EventHub

_SHOWN_PER_PROBLEM = 2


class EventAudit:
    def __init__(self) -> None:
        self.checked: Counter[str] = Counter()
        # (where, type, what is wrong) -> the events that have that problem
        self.problems: defaultdict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)

    def check(self, public: Mapping[str, Any], where: str) -> None:
        type_ = str(public.get("type"))
        self.checked[type_] += 1
        try:
            validate_event(public)
        except ValidationError as exc:
            wrong = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                for error in exc.errors()
            )
            self.problems[(where, type_, wrong)].append(dict(public))

    def watch(self, hub: EventHub, where: str) -> None:
        """Check the events a server streams but never stores, as its hub publishes them."""

        def on_event(event: Event) -> None:
            if event.type in EPHEMERAL_TYPES:
                self.check(event.to_public(), where)

        hub.watch(on_event)

    async def read_log(self, database_url: str, where: str) -> None:
        """Check every event in a (stopped) server's database, store by store."""
        db = Database(database_url)
        try:
            async with db.read(ALL_STORES) as session:
                store_ids = list(await session.scalars(select(StoreRow.id)))
                for store_id in store_ids:
                    upto = await log.high_water(session, store_id)
                    events = await log.read_range(
                        session, store_id, 0, upto, EventFilter(), max(upto, 1)
                    )
                    for event in events:
                        self.check(event.to_public(), where)
        finally:
            await db.dispose()

    def report(self) -> str:
        lines = [f"{sum(len(found) for found in self.problems.values())} invalid events:"]
        for (where, type_, wrong), found in sorted(self.problems.items()):
            lines.append(f"- {where}: {type_} ({len(found)}x): {wrong}")
            for public in found[:_SHOWN_PER_PROBLEM]:
                lines.append(f"    {json.dumps(public, default=str)[:400]}")
        return "\n".join(lines)


@pytest.fixture(scope="session")
def event_audit() -> Iterator[EventAudit]:
    """Torn down after the servers that report to it: fails the session if any event they
    produced does not match its model."""
    audit = EventAudit()
    yield audit
    if audit.problems:
        pytest.fail(audit.report(), pytrace=False)
