"""Events as compact JSON arrays, for the transports that carry them between processes (the
relay's datagrams, PostgreSQL notifications)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic_core import from_json, to_json

from loopwright.domain.events import Event

MAX_PAYLOAD = 7900
"""Bytes of a PostgreSQL notification's payload: it refuses one of 8000 bytes or more."""
_SEQ_DIGITS = 20  # a bigint's digits, for the seqs the database fills in


def encode(event: Event) -> list[Any]:
    return [
        event.store_id,
        event.seq,
        event.type,
        event.session_id,
        event.run_id,
        event.created_at.isoformat(),
        event.payload,
    ]


def decode(item: list[Any]) -> Event:
    store_id, seq, type_, session_id, run_id, created_at, payload = item
    return Event(
        store_id=store_id,
        seq=seq,
        type=type_,
        session_id=session_id,
        run_id=run_id,
        created_at=datetime.fromisoformat(created_at),
        payload=payload,
    )


def notification(
    kind: str, origin: str, store_id: str, items: str, created_at: datetime
) -> tuple[str, str]:
    """An append's notification, as the text before and after ``<first seq> <last seq>``
    (which the appending statement fills in): ``<kind> <origin> <first> <last> <store>``, or,
    when it fits in a notification, the events themselves instead of the store:
    ``<KIND> <origin> <first> <last> [store, created_at, [[type, session, run, payload]...]]``
    (``carried`` reads them back). ``items``: the events' ``[[type, session, run,
    payload]...]`` as JSON, which the append's statement inserts too (encoded once)."""
    head = f"{kind} {origin} "
    body = f"[{to_json(store_id).decode()},{to_json(created_at.isoformat()).decode()},{items}]"
    if len(head) + 2 * _SEQ_DIGITS + 2 + len(body.encode()) <= MAX_PAYLOAD:
        return kind.upper() + head[1:], " " + body
    return head, f" {store_id}"


def carried(first: int, body: str) -> list[Event]:
    """The events a notification carries (``notification``), the first one's seq ``first``."""
    store_id, created_at, items = from_json(body)
    at = datetime.fromisoformat(created_at)
    return [
        Event(
            store_id=store_id,
            seq=first + i,
            type=type_,
            session_id=session_id,
            run_id=run_id,
            created_at=at,
            payload=payload,
        )
        for i, (type_, session_id, run_id, payload) in enumerate(items)
    ]
