"""Hand this process's events to the other server processes of the same database on this
machine, and theirs to this process's hub, so a reader in any process sees every run live.

Each process binds a Unix datagram socket in a directory shared by the processes of one
database (``group_dir``: private to the user, under the temp directory, named by a hash of the
database URL) and sends every event its hub publishes, committed or ephemeral, to each peer
socket in it. A new process says hello to the others, so they send to it from then on. Sends
never block: a peer whose buffer is full, or an event batch too large for one datagram, is
skipped, and the peer's readers find the gap and read the log (the hub is a cache, the log is
the truth). A datagram socket keeps one sender's order; batches of different senders
interleave, which the hub's readers reorder (see ``follow``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic_core import from_json, to_json

from loopwright.domain.events import Event
from loopwright.events.hub import EventHub

logger = logging.getLogger("loopwright.events")

_EVENTS = b"E"
_HELLO = b"H"
_RECEIVE_BUFFER = 4 * 1024 * 1024  # capped by the kernel's net.core.rmem_max
_MAX_DATAGRAM = 1 << 20
PEER_REFRESH_S = 2.0
"""How often the peer list is read again from the directory (a missed hello, a dead peer)."""


def group_dir(database_url: str) -> Path:
    """The directory the server processes of one database meet in on this machine; short,
    so a socket path fits the 108 bytes Unix allows whatever the data directory."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"loopwright-{os.getuid()}-{digest}"


class Relay:
    def __init__(self, directory: Path, hub: EventHub) -> None:
        self.directory = directory
        self.hub = hub
        self.path = directory / f"{os.getpid()}-{secrets.token_hex(4)}.sock"
        self._sock: socket.socket | None = None
        self._peers: set[str] = set()
        self._peers_read_at = 0.0
        self.dropped = 0  # datagrams a peer could not take (full, gone, too large)

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind this process's socket, start receiving, greet the peers, forward the hub."""
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
        self._send_all(_HELLO)
        self.hub.forward = self.send

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        self.hub.forward = None
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
        """Give events this process published to every peer; never blocks."""
        if time.monotonic() - self._peers_read_at > PEER_REFRESH_S:
            self._read_peers()
        if self._peers:
            self._send_all(_EVENTS + to_json([_encode(e) for e in events]))

    def _send_all(self, datagram: bytes) -> None:
        sock = self._sock
        assert sock is not None
        for peer in list(self._peers):
            try:
                sock.sendto(datagram, peer)
            except (BlockingIOError, InterruptedError):
                self.dropped += 1  # its buffer is full: its readers will read the log
            except FileNotFoundError:
                self._peers.discard(peer)  # the process closed its socket
            except ConnectionRefusedError:
                self._peers.discard(peer)  # the process died and left its socket file
                with contextlib.suppress(FileNotFoundError):
                    Path(peer).unlink()
            except OSError as exc:  # too large for one datagram, or the like
                self.dropped += 1
                logger.debug("relay to %s failed: %s", peer, exc)

    def _receive(self) -> None:
        sock = self._sock
        assert sock is not None
        while True:
            try:
                datagram, sender = sock.recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            if datagram[:1] == _HELLO and isinstance(sender, str) and sender:
                self._peers.add(sender)
            elif datagram[:1] == _EVENTS:
                try:
                    events = [_decode(item) for item in from_json(datagram[1:])]
                except (ValueError, TypeError, IndexError):
                    logger.warning("relay: a malformed datagram from %s was ignored", sender)
                    continue
                self.hub.receive(events)

    def _read_peers(self) -> None:
        own = str(self.path)
        self._peers = {str(entry) for entry in self.directory.glob("*.sock") if str(entry) != own}
        self._peers_read_at = time.monotonic()


def _encode(event: Event) -> list[Any]:
    return [
        event.store_id,
        event.seq,
        event.type,
        event.session_id,
        event.run_id,
        event.created_at.isoformat(),
        event.payload,
    ]


def _decode(item: list[Any]) -> Event:
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
