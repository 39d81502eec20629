"""Carry events between server processes on any machine through PostgreSQL ``LISTEN/NOTIFY``.

Committed events: the appending transaction notifies (``events.log``: the events themselves
when they fit in a notification, else the store and the seq range, with the appending
process's name, ride the seq bump's round trip), so the notification is delivered at commit,
in commit order, to a ``LISTEN`` connection in every process of every machine. The listener
hands carried events to the hub at once, as the relay hands a peer's; a range it reads from
the log once for all of its process's readers of that store (so does a store whose earlier
events it has not all seen: a gap). A store nobody here reads is not read. Token deltas
(ephemeral, never in the log) go as their own notifications, sent after the commit of what
came before them in their process, so they arrive behind it: at most a few per loop
iteration (one round trip each on a connection of their own), an oversize delta or a failed
send is dropped (the complete message is in the log). A transaction that queues a run says
so (``q`` or ``Q``): a worker admits it at once, not at its next sweep (an API-only process
admits nothing).

Processes that already exchange events through the relay (this machine's peers) ignore each
other's notifications: the relay carried them. A process sends no notification while no
other process listens but its relay peers (a single server on PostgreSQL: its own listener
would receive everything it sends, to drop it): each ``LISTEN`` connection names its process
(``application_name``), and a process looks at the others every ``OTHERS_CHECK_S``; one that
starts listening says so at once (``h <origin>`` on both channels), and those listening
notify from then on. Events committed before they heard it reach its readers by the safety
poll; token deltas sent meanwhile are lost, as a dropped delta is.

A lost ``LISTEN`` connection is opened again, and the readers' stores are read from the log
from where this process stood (the notifications sent in between are lost); a lost
notification is caught by the readers' slow safety poll (``event_poll_s``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Literal

import psycopg
from psycopg.pq import Escaping
from pydantic_core import from_json, to_json
from sqlalchemy import String, make_url, text

from loopwright.db import pg_simple
from loopwright.db.database import Database, core
from loopwright.db.prepared import prepare
from loopwright.db.row_security import ALL_STORES
from loopwright.domain.events import Event, EventFilter
from loopwright.events import log
from loopwright.events.hub import EventHub
from loopwright.events.wire import MAX_PAYLOAD as MAX_PAYLOAD
from loopwright.events.wire import carried, decode, encode

logger = logging.getLogger("loopwright.events")

_MAX_QUEUED = 1 << 20  # delta bytes waiting to be sent; beyond, they are dropped
_PAGE = 1000
RECONNECT_S = (0.1, 0.5, 1.0, 2.0)
LINGER_S = 5.0
"""How long a process goes on listening to events after its last reader left."""
OTHERS_CHECK_S = 2.0
"""How often a process looks whether another one listens (one that starts says so at once:
this catches one that left, or whose word was lost)."""
LISTENER = "loopwright-listen"
"""A ``LISTEN`` connection's ``application_name``, followed by its process's name."""
_LISTENERS = prepare(
    text(
        "SELECT application_name FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name LIKE :like"
    ).columns(application_name=String)
)


def _notify_all(conn: psycopg.AsyncConnection[tuple[object, ...]], payloads: list[str]) -> bytes:
    """One statement notifying each payload on the events channel, the payloads bound as
    escaped literals (one round trip of the simple protocol, no parameters to convert)."""
    escape = Escaping(conn.pgconn).escape_literal
    encoding = conn.info.encoding
    calls = b", ".join(
        b"pg_notify('" + log.NOTIFY_CHANNEL.encode() + b"', " + escape(p.encode(encoding)) + b")"
        for p in payloads
    )
    return b"SELECT " + calls


def conninfo(database_url: str) -> str:
    """A libpq connection string from the app's SQLAlchemy URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


class PgNotifier:
    def __init__(
        self,
        db: Database,
        hub: EventHub,
        listen_url: str,
        *,
        name: str | None = None,
        carried: Callable[[str], bool] | None = None,
        events: Literal["always", "when_read"] = "always",
    ) -> None:
        """``name``: this process's name in notifications (the relay's, when there is one);
        ``carried(name)``: whether the events of process ``name`` reach this one another way
        (the relay), so its notifications are ignored; ``events``: listen to the events
        channel always (a process serving streams: a stream opened just before a run must
        not miss the run's first token deltas, which no log holds) or only while a reader
        here follows a store (a worker serving no streams: its own readers wait for
        committed events, which the log has)."""
        self.db = db
        self.hub = hub
        self.conninfo = conninfo(listen_url)
        self.name = name or secrets.token_hex(8)
        self._carried = carried or (lambda origin: origin == self.name)
        self._inbox: list[str] = []
        self._inbox_ready = asyncio.Event()
        self._outbox: list[bytes] = []  # encoded deltas published in this loop iteration
        self._to_send: list[str] = []
        self._to_send_bytes = 0
        self._send_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.listening = asyncio.Event()
        """Set while the ``LISTEN`` connection is open and listens to the channels wanted
        (``channels``; tests wait for it)."""
        self.caught_up = asyncio.Event()
        """Set once the events appended while this process did not listen have been read from
        the log (``_catch_up``), after it starts listening to events again (tests wait for
        it: the catch-up reads what the hub knew when it ran)."""
        self.caught_up.set()
        self.others = asyncio.Event()
        """Set while another process listens (not a relay peer): only then does this one
        notify. Set at first, until a look at the listeners finds none."""
        self.others.set()
        self.others_checked = asyncio.Event()
        """Set once the listeners were looked at (tests wait for it)."""
        self.hellos = 0  # notifications from processes that started listening
        self.channels: set[str] = set()
        self._target: set[str] | None = None  # the channels being listened to, once connected
        self.events = events
        self._interest = asyncio.Event()
        self._readers_gone_at = -LINGER_S
        self._had_readers = False  # whether the hub had readers at the last change
        self.notifications = 0  # received, on any channel
        self.dropped = 0  # deltas not sent (too large, too many queued, a failed send)
        self.carried_events = 0  # committed events handed on from their notification
        self.log_reads = 0  # reads of the log for notified events (too large to carry, a gap)
        self.reconnects = 0

    async def start(self) -> None:
        self.db.notify_origin = self.name
        self.hub.add_forward(self.send)
        self.hub.on_interest(self._interest_changed)
        self._tasks = [
            asyncio.create_task(self._listen(), name="pg-notify-listen"),
            asyncio.create_task(self._deliver(), name="pg-notify-deliver"),
            asyncio.create_task(self._send(), name="pg-notify-send"),
            asyncio.create_task(self._watch_others(), name="pg-notify-others"),
        ]

    async def stop(self) -> None:
        self.hub.remove_forward(self.send)
        self.hub.off_interest(self._interest_changed)
        self.db.notify_origin = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def send(self, events: Sequence[Event]) -> None:
        """Queue this process's token deltas for other processes (committed events were
        notified by their transaction), batched per loop iteration; never blocks."""
        if not self.others.is_set():
            return  # nobody else would take them
        deltas = [event for event in events if event.seq is None]
        if not deltas:
            return
        if not self._outbox:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outbox.extend(to_json(encode(event)) for event in deltas)

    def _flush(self) -> None:
        items, self._outbox = self._outbox, []
        head = f"d {self.name} "
        limit = MAX_PAYLOAD - len(head.encode()) - 2
        batch: list[bytes] = []
        size = 0
        for item in items:
            if len(item) > limit:
                self.dropped += 1
                continue
            if batch and size + len(item) + 1 > limit:
                self._queue(head + "[" + b",".join(batch).decode() + "]")
                batch, size = [], 0
            batch.append(item)
            size += len(item) + 1
        if batch:
            self._queue(head + "[" + b",".join(batch).decode() + "]")

    def _queue(self, payload: str) -> None:
        if self._to_send_bytes + len(payload) > _MAX_QUEUED:
            self.dropped += 1
            return
        self._to_send.append(payload)
        self._to_send_bytes += len(payload)
        self._send_ready.set()

    async def _send(self) -> None:
        """Send the queued deltas on a connection of their own, a batch per round trip."""
        conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        try:
            while True:
                await self._send_ready.wait()
                self._send_ready.clear()
                payloads, self._to_send, self._to_send_bytes = self._to_send, [], 0
                if not payloads:
                    continue
                try:
                    if conn is None or conn.closed:
                        conn = await psycopg.AsyncConnection.connect(
                            self.conninfo, autocommit=True, application_name="loopwright-notify"
                        )
                    await pg_simple.simple_query(conn, _notify_all(conn, payloads))
                except (psycopg.Error, OSError) as exc:
                    self.dropped += len(payloads)
                    logger.warning("notify: %d delta batches not sent: %s", len(payloads), exc)
                    if conn is not None:
                        await conn.close()
                    conn = None
        finally:
            if conn is not None:
                await conn.close()

    def _interest_changed(self) -> None:
        """Readers or queued-run watchers came or went: listen again to what they take, unless
        the channels it listens to are those already."""
        reads = self.hub.reads_any
        if self._had_readers and not reads:
            self._readers_gone_at = time.monotonic()
            with contextlib.suppress(RuntimeError):  # no loop: nothing listens yet
                asyncio.get_running_loop().call_later(LINGER_S, self._interest.set)
        self._had_readers = reads
        if self._wanted() == self._target:
            return  # as a process serving streams, whose readers come and go with each stream
        self.listening.clear()
        self._interest.set()

    def _wanted(self) -> set[str]:
        """The channels someone here takes: events (unless ``events`` is ``when_read``: while
        a reader follows a store, and ``LINGER_S`` after the last one left, so readers coming
        and going do not listen and stop each time), queued runs while a worker watches for
        them."""
        wanted: set[str] = set()
        if (
            self.events == "always"
            or self.hub.reads_any
            or time.monotonic() - self._readers_gone_at < LINGER_S
        ):
            wanted.add(log.NOTIFY_CHANNEL)
        if self.hub.watches_queued:
            wanted.add(log.QUEUED_CHANNEL)
        return wanted

    async def _listen(self) -> None:
        attempt = 0
        first = True
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True, application_name=f"{LISTENER} {self.name}"
                )
            except (psycopg.Error, OSError) as exc:
                wait = RECONNECT_S[min(attempt, len(RECONNECT_S) - 1)]
                if attempt == 0:
                    logger.warning("notify: cannot listen (%s); retrying", exc)
                attempt += 1
                await asyncio.sleep(wait)  # back off before connecting again
                continue
            # notifications that arrive while a command runs (``LISTEN``) come this way
            conn.add_notify_handler(lambda note: self._note(note.channel, note.payload))
            try:
                async with conn:
                    if not first:
                        self.reconnects += 1
                    await self._say_hello(conn)
                    await self._follow_interest(conn, caught_up=first)
            except (psycopg.Error, OSError) as exc:
                logger.warning("notify: the LISTEN connection was lost (%s)", exc)
            finally:
                self.listening.clear()
                self.channels = set()
                self._target = None
            first = False
            attempt = 0

    async def _say_hello(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        """Tell the processes listening that this one listens now (on both channels: a worker
        nobody reads from listens only to queued runs; an empty store wakes no worker)."""
        await conn.execute(
            "SELECT pg_notify(%s, %s), pg_notify(%s, %s)",
            (log.NOTIFY_CHANNEL, f"h {self.name}", log.QUEUED_CHANNEL, f"{self.name} "),
        )

    async def _watch_others(self) -> None:
        """Look at the other processes' ``LISTEN`` connections every ``OTHERS_CHECK_S``: with
        none (but relay peers', unless this API-only process wakes workers), send nothing.
        A listener named ``loopwright-listen`` alone is an earlier release's process."""
        while True:
            try:
                hellos = self.hellos
                async with self.db.read(ALL_STORES) as session:
                    rows = (await core(session, _LISTENERS, {"like": f"{LISTENER}%"})).all()
                names = [row.application_name[len(LISTENER) + 1 :] for row in rows]
                near = any(name != self.name for name in names)
                far = any(not self._carried(name) for name in names)
                if far or self.hellos == hellos:  # not one heard of since it looked
                    self._set_others(far, near)
                self.others_checked.set()
            except Exception:  # the notifications go on as they were; look again later
                logger.exception("notify: looking at the listeners failed")
            await asyncio.sleep(OTHERS_CHECK_S)

    def _heard(self, origin: str) -> None:
        """``origin`` listens now."""
        if origin == self.name:
            return
        self.hellos += 1
        self._set_others(self.others.is_set() or not self._carried(origin), True)

    def _set_others(self, far: bool, near: bool) -> None:
        """``far``: a process the relay does not reach listens; ``near``: any other does (the
        relay carries no wake-ups of queued runs: an API-only process sends them to its relay
        peers through PostgreSQL too)."""
        if far:
            self.others.set()
        else:
            self.others.clear()
        notify = far or (near and self.db.wake_workers)
        self.db.notify_origin = self.name if notify else None

    async def _follow_interest(
        self, conn: psycopg.AsyncConnection[tuple[object, ...]], caught_up: bool
    ) -> None:
        """Listen to the wanted channels and take their notifications; when what is wanted
        changes, listen again. Starting to listen to events (again, or after a lost
        connection) reads what the readers' stores appended meanwhile from the log."""
        while True:
            self._interest.clear()
            wanted = self._target = self._wanted()
            for channel in sorted(wanted - self.channels):
                await conn.execute(f"LISTEN {channel}")
            for channel in sorted(self.channels - wanted):
                await conn.execute(f"UNLISTEN {channel}")
            if log.NOTIFY_CHANNEL in wanted - self.channels and not caught_up:
                self._inbox.append("")  # catch up from the log, in order
                self._inbox_ready.set()
                self.caught_up.clear()
            caught_up = False
            self.channels = wanted
            self.listening.set()
            await self._receive_until_changed(conn)

    async def _receive_until_changed(
        self, conn: psycopg.AsyncConnection[tuple[object, ...]]
    ) -> None:
        """Take the notifications as they arrive until what is wanted changes (then return)
        or the connection fails (then raise). The socket's reader drains every notification
        libpq has in one call, without a task switch or an async iteration per
        notification: the listener also receives every notification its own process sends."""
        loop = asyncio.get_running_loop()
        lost: asyncio.Future[None] = loop.create_future()
        pgconn = conn.pgconn
        encoding = conn.info.encoding

        def readable() -> None:
            try:
                pgconn.consume_input()
            except psycopg.Error as exc:
                if not lost.done():
                    lost.set_exception(exc)
                return
            while (note := pgconn.notifies()) is not None:
                self._note(note.relname.decode(encoding), note.extra.decode(encoding))

        fd = pgconn.socket
        loop.add_reader(fd, readable)
        changed: asyncio.Future[None] = asyncio.ensure_future(self._wait_interest())
        try:
            readable()  # what arrived while the commands ran
            await asyncio.wait([changed, lost], return_when=asyncio.FIRST_COMPLETED)
        finally:
            loop.remove_reader(fd)
            changed.cancel()
        if lost.done():
            lost.result()  # the connection failed: raise what it raised

    async def _wait_interest(self) -> None:
        await self._interest.wait()

    def _note(self, channel: str, payload: str) -> None:
        """A notification: a queued run's wake-up, or events for ``_deliver`` (unless this
        process or a relay peer sent them)."""
        self.notifications += 1
        if channel == log.QUEUED_CHANNEL:
            self._queued(payload)
            return
        kind, _, rest = payload.partition(" ")
        origin = rest.partition(" ")[0]
        if kind == "h":
            self._heard(origin)
            return
        if origin and self._carried(origin):
            return
        self._inbox.append(payload)
        self._inbox_ready.set()

    def _queued(self, payload: str) -> None:
        """``<origin> <store>``: another process queued a run of the store; with no store,
        it listens now."""
        origin, _, store = payload.partition(" ")
        if origin == self.name:
            return
        if store:  # the relay carries no wake-ups
            self.hub.queued_elsewhere(store)
        else:
            self._heard(origin)

    async def _deliver(self) -> None:
        while True:
            await self._inbox_ready.wait()
            self._inbox_ready.clear()
            notes, self._inbox = self._inbox, []
            try:
                await self._handle(notes)
            except Exception:  # the readers' safety poll covers what this missed
                logger.exception("notify: delivering notifications failed")

    async def _handle(self, notes: list[str]) -> None:
        """Hand the notified events to the hub in the order they were notified: the events a
        notification carries at once, committed ranges read from the log (one read per store
        for a run of them), deltas behind them. A store with a range still to read takes the
        events notified after it from the same read, so its events stay in order; so does one
        whose events are not all here before the carried ones (a lost notification)."""
        ranges: dict[str, tuple[int, int]] = {}
        for note in notes:
            if note == "":
                await self._read(ranges)
                ranges = {}
                try:
                    await self._catch_up()
                finally:
                    self.caught_up.set()
                continue
            kind, _, rest = note.partition(" ")
            origin, _, body = rest.partition(" ")
            if self._carried(origin):
                continue
            if kind in ("C", "Q"):
                try:
                    first_s, last_s, items = body.split(" ", 2)
                    events = carried(int(first_s), items)
                except (ValueError, TypeError):
                    logger.warning("notify: a malformed notification was ignored")
                    continue
                if events:
                    self._take(events, ranges)
                continue
            if kind in ("c", "q"):
                first_s, last_s, store = body.split(" ", 2)
                first, last = int(first_s), int(last_s)
                if not self.hub.has_readers(store) or self.hub.published(store, first, last):
                    continue
                low, high = ranges.get(store, (first, last))
                ranges[store] = (min(low, first), max(high, last))
            elif kind == "d":
                await self._read(ranges)
                ranges = {}
                try:
                    deltas = [decode(item) for item in from_json(body)]
                except (ValueError, TypeError):
                    logger.warning("notify: a malformed notification was ignored")
                    continue
                self.hub.receive(deltas)
        await self._read(ranges)

    def _take(self, events: list[Event], ranges: dict[str, tuple[int, int]]) -> None:
        """A notification that carries its events: to the hub at once, unless the store's
        events before them are not all here (then from the log, with them)."""
        store = events[0].store_id
        first = events[0].seq or 0
        last = events[-1].seq or first
        if not self.hub.has_readers(store) or self.hub.published(store, first, last):
            return
        if store not in ranges:
            known = self.hub.last_known(store)
            if (
                known is None
                or known >= first - 1
                or self.hub.published(store, known + 1, first - 1)
            ):
                self.carried_events += len(events)
                self.hub.receive(events)
                return
            ranges[store] = (known + 1, last)  # a gap before them: the log has it
            return
        low, high = ranges[store]
        ranges[store] = (min(low, first), max(high, last))

    async def _read(self, ranges: dict[str, tuple[int, int]]) -> None:
        if not ranges:
            return
        self.log_reads += 1
        async with self.db.read(ALL_STORES) as session:
            for store, (first, last) in ranges.items():
                after = first - 1
                while after < last:
                    events = await log.read_range(session, store, after, last, EventFilter(), _PAGE)
                    if not events:
                        break
                    self.hub.receive(events)
                    after = events[-1].seq or last

    async def _catch_up(self) -> None:
        """After the ``LISTEN`` connection was lost: what the readers' stores appended since
        this process last knew, from the log."""
        ranges: dict[str, tuple[int, int]] = {}
        async with self.db.read(ALL_STORES) as session:
            for store in self.hub.stores_read():
                known = self.hub.last_known(store)
                if known is None:
                    continue
                upto = await log.high_water(session, store)
                if upto > known:
                    ranges[store] = (known + 1, upto)
        await self._read(ranges)
