"""Events as compact JSON arrays, for the transports that carry them between processes (the
relay's datagrams, PostgreSQL notifications)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loopwright.domain.events import Event


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
