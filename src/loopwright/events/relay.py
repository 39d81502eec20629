"""Hand this process's events to the other server processes of the same database on this
machine, and theirs to this process's hub, so a reader in any process sees every run live.

Each process binds a Unix datagram socket in a directory shared by the processes of one
database (``group_dir``: private to the user, under the temp directory, named by a hash of the
database URL), and keeps a socket connected to each peer's. Every event its hub publishes,
committed or ephemeral, goes to every peer, batched per loop iteration (a burst of token
deltas is one datagram). A new process says hello to the others, so they send to it from then
on. Sends never block: what a peer cannot take yet waits, in order, until its socket polls
writable (see ``_Peer``). A batch too large for a datagram, or too much for a peer that
stopped reading, is dropped, and that peer's readers find the gap and read the log (the hub is
a cache, the log is the truth). One sender's datagrams keep their order; different senders'
interleave, which the hub's readers reorder (see ``follow``)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
import os
import secrets
import socket
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic_core import from_json, to_json

from loopwright.domain.events import Event
from loopwright.events.hub import EventHub
from loopwright.events.wire import decode, encode

logger = logging.getLogger("loopwright.events")

_EVENTS = b"E"
_HELLO = b"H"
_RECEIVE_BUFFER = 4 * 1024 * 1024  # capped by the kernel's net.core.rmem_max
_MAX_DATAGRAM = 1 << 20
_MAX_SEND = 200_000  # under the kernel's default socket send buffer (net.core.wmem_default)
PEER_REFRESH_S = 2.0
"""How often the peer list is read again from the directory (a missed hello, a dead peer)."""


def group_dir(database_url: str) -> Path:
    """The directory the server processes of one database meet in on this machine; short,
    so a socket path fits the 108 bytes Unix allows whatever the data directory."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"loopwright-{os.getuid()}-{digest}"


class _Peer:
    """A datagram socket connected to one peer, with the datagrams it could not take yet.

    A Unix datagram socket queues only ``net.unix.max_dgram_qlen`` (often 10) datagrams for
    a receiver; a burst beyond that fails with EAGAIN. Connected, the socket polls writable
    when the peer's queue has room, so what it could not take waits here, in order, and is
    sent then. Past ``MAX_PENDING_BYTES`` (a peer that stopped reading) it is dropped."""

    MAX_PENDING_BYTES = 16 * 1024 * 1024

    def __init__(self, path: str, loop: asyncio.AbstractEventLoop) -> None:
        self.path = path
        self.loop = loop
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.connect(path)  # ConnectionRefusedError: nobody is bound there any more
        self.pending: collections.deque[bytes] = collections.deque()
        self.pending_bytes = 0
        self.dropped = 0

    def post(self, datagram: bytes) -> None:
        if self.pending:
            self._hold(datagram)
            return
        try:
            self.sock.send(datagram)
        except (BlockingIOError, InterruptedError):
            self._hold(datagram)
            if self.pending:
                self.loop.add_writer(self.sock.fileno(), self._drain)

    def close(self) -> None:
        if self.pending:
            self.loop.remove_writer(self.sock.fileno())
        self.sock.close()

    def _hold(self, datagram: bytes) -> None:
        if self.pending_bytes + len(datagram) > self.MAX_PENDING_BYTES:
            self.dropped += 1  # its readers will find the gap and read the log
            return
        self.pending.append(datagram)
        self.pending_bytes += len(datagram)

    def _drain(self) -> None:
        while self.pending:
            try:
                self.sock.send(self.pending[0])
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # the peer went away: nothing more to send it
                self.pending.clear()
                break
            self.pending_bytes -= len(self.pending.popleft())
        self.pending_bytes = 0
        self.loop.remove_writer(self.sock.fileno())


class Relay:
    def __init__(self, directory: Path, hub: EventHub) -> None:
        self.directory = directory
        self.hub = hub
        self.path = directory / f"{os.getpid()}-{secrets.token_hex(4)}.sock"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sock: socket.socket | None = None
        self._peers: dict[str, _Peer] = {}
        self._peers_read_at = 0.0
        self._outbox: list[bytes] = []  # encoded events published in this loop iteration
        self.dropped = 0  # batches a peer was not sent (too large, or it stopped reading)

    @property
    def name(self) -> str:
        """This process's name in the group: its socket's file name, without ``.sock``."""
        return self.path.stem

    def carries_from(self, name: str) -> bool:
        """Whether events of the process ``name`` reach this one through the relay: it is
        this process, or a peer it exchanges datagrams with."""
        return name == self.path.stem or str(self.directory / f"{name}.sock") in self._peers

    async def start(self) -> None:
        self.open(asyncio.get_running_loop())

    async def stop(self) -> None:
        self.close(asyncio.get_running_loop())

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind this process's socket, start receiving, greet the peers, forward the hub."""
        self._loop = loop
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
        for attempt in range(3):  # the last peer to leave removes the directory
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)  # peers are this user's processes only
            try:
                sock.bind(str(self.path))
                break
            except FileNotFoundError:
                if attempt == 2:
                    raise
        self._sock = sock
        loop.add_reader(sock.fileno(), self._receive)
        self._read_peers()
        for peer in self._peers.values():
            peer.post(_HELLO + str(self.path).encode())
        self.hub.add_forward(self.send)

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        self.hub.remove_forward(self.send)
        for peer in self._peers.values():
            peer.close()
        self._peers.clear()
        if self._sock is None:
            return
        loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._sock = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with contextlib.suppress(OSError):
            self.directory.rmdir()  # only if no peer is left in it

    @property
    def peers(self) -> frozenset[str]:
        """The peer sockets this relay sends to."""
        return frozenset(self._peers)

    def send(self, events: Sequence[Event]) -> None:
        """Give events this process published to every peer: batched per loop iteration
        (a burst of token deltas is one datagram), never blocking. With no peer (a server of
        one process) nothing is encoded: this runs for every event and every token."""
        if time.monotonic() - self._peers_read_at > PEER_REFRESH_S:
            self._read_peers()
        if not self._peers:
            return
        if not self._outbox:
            assert self._loop is not None
            self._loop.call_soon(self._flush)
        self._outbox.extend(to_json(encode(event)) for event in events)

    def _flush(self) -> None:
        items, self._outbox = self._outbox, []
        datagrams, too_large = _datagrams(items)
        self.dropped += too_large
        for datagram in datagrams:
            for path, peer in list(self._peers.items()):
                try:
                    peer.post(datagram)
                except OSError as exc:  # gone (refused, removed), or the like
                    self._forget(path, dead=isinstance(exc, ConnectionRefusedError))

    def _receive(self) -> None:
        sock = self._sock
        assert sock is not None
        while True:
            try:
                datagram = sock.recv(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            if datagram[:1] == _HELLO:
                self._add_peer(datagram[1:].decode(errors="replace"))
            elif datagram[:1] == _EVENTS:
                try:
                    events = [decode(item) for item in from_json(datagram[1:])]
                except (ValueError, TypeError, IndexError):
                    logger.warning("relay: a malformed datagram was ignored")
                    continue
                self.hub.receive(events)

    def _read_peers(self) -> None:
        own = str(self.path)
        found = {str(entry) for entry in self.directory.glob("*.sock") if str(entry) != own}
        for path in set(self._peers) - found:
            self._forget(path, dead=False)
        for path in found - set(self._peers):
            self._add_peer(path)
        self._peers_read_at = time.monotonic()

    def _add_peer(self, path: str) -> None:
        if path in self._peers or path == str(self.path) or not path.endswith(".sock"):
            return
        assert self._loop is not None
        try:
            self._peers[path] = _Peer(path, self._loop)
        except ConnectionRefusedError:  # a dead process left its socket file
            with contextlib.suppress(FileNotFoundError):
                Path(path).unlink()
        except OSError:
            pass  # gone already

    def _forget(self, path: str, *, dead: bool) -> None:
        peer = self._peers.pop(path, None)
        if peer is not None:
            self.dropped += peer.dropped
            peer.close()
        if dead:
            with contextlib.suppress(FileNotFoundError):
                Path(path).unlink()


def _datagrams(items: list[bytes]) -> tuple[list[bytes], int]:
    """Encoded events as ``E[...]`` datagrams of at most ``_MAX_SEND`` bytes each, and how
    many events were larger than that alone: those are left out (their peers' readers read
    the log for them)."""
    out: list[bytes] = []
    batch: list[bytes] = []
    size = 0
    too_large = 0
    for item in items:
        if len(item) + 3 > _MAX_SEND:
            too_large += 1
            continue
        if batch and size + len(item) + 1 > _MAX_SEND - 3:
            out.append(_EVENTS + b"[" + b",".join(batch) + b"]")
            batch, size = [], 0
        batch.append(item)
        size += len(item) + 1
    if batch:
        out.append(_EVENTS + b"[" + b",".join(batch) + b"]")
    return out, too_large
