"""How a process's events reach readers in the other processes: the notifiers.

A notifier is handed every event its process publishes (``send``, through the hub's
forwards; it must not block) and hands the other processes' events to its hub
(``EventHub.receive``). The relay (``relay``) carries everything between the processes of one
machine over Unix sockets, the fast path; on PostgreSQL, ``LISTEN/NOTIFY`` (``pg_notify``)
carries them between all processes of all machines, and ignores what the relay carried.
Either can miss an event: the hub is an alarm and a cache, and the readers read the log for
any gap (``follow``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from loopwright.db.database import Database
from loopwright.domain.events import Event
from loopwright.events.hub import EventHub
from loopwright.events.pg_notify import PgNotifier
from loopwright.events.relay import Relay, group_dir
from loopwright.settings import Settings


class Notifier(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def send(self, events: Sequence[Event]) -> None: ...


def make_hub(settings: Settings) -> EventHub:
    """Readers wait ``reorder_s`` for an event another process's notifier delivers late."""
    notified = settings.relay or (settings.pg_notify and not settings.is_sqlite)
    return EventHub(reorder_s=settings.reorder_s if notified else 0.0)


async def start_notifiers(
    settings: Settings, db: Database, hub: EventHub, *, streams: bool = True
) -> list[Notifier]:
    """``streams``: the process serves event streams (so it takes every event); a worker
    serving none takes events from PostgreSQL only while a reader of its own waits."""
    notifiers: list[Notifier] = []
    relay = Relay(group_dir(settings.app_database_url), hub) if settings.relay else None
    if relay is not None:
        notifiers.append(relay)
    if settings.pg_notify and not settings.is_sqlite:
        notifiers.append(
            PgNotifier(
                db,
                hub,
                settings.listen_database_url or settings.app_database_url,
                name=relay.name if relay is not None else None,
                carried=relay.carries_from if relay is not None else None,
                events="always" if streams else "when_read",
            )
        )
    for notifier in notifiers:
        await notifier.start()
    return notifiers


async def stop_notifiers(notifiers: list[Notifier]) -> None:
    for notifier in reversed(notifiers):
        await notifier.stop()
