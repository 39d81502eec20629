"""A DNS rebinding attack played on loopback only, for the egress transport's tests.

The name is ``localhost``: it is what the injected resolver answers for, and if a client ever
resolved it itself the system would answer from ``/etc/hosts`` (127.0.0.1) without a DNS query,
so a regression reaches a decoy on loopback, never the network.

    127.0.0.3:P   the real server: the guard's first answer, the only address allowed
    127.0.0.2:P   a decoy: the resolver's later answers (the rebinding)
    127.0.0.1:P   a decoy: where the system resolves localhost

    async with rebinding_stage(app) as stage:
        guard = EgressGuard([f"{stage.checked}/32"], resolver=stage.dns)
        ... f"http://localhost:{stage.port}/..." ...
        assert stage.dns.asked == ["localhost"] and stage.decoy_hits == 0
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "localhost"
CHECKED = "127.0.0.3"
REBOUND = "127.0.0.2"
SYSTEM = "127.0.0.1"


@dataclass
class Rebinding:
    """Answers ``HOST`` with ``CHECKED`` the first time and ``REBOUND`` ever after."""

    asked: list[str] = field(default_factory=list)

    async def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        if host != HOST:
            raise OSError(f"rebinding DNS: {host} is unknown")
        return [CHECKED] if len(self.asked) == 1 else [REBOUND]


@dataclass
class Stage:
    port: int
    dns: Rebinding
    decoy_peers: list[str]
    checked: str = CHECKED

    @property
    def decoy_hits(self) -> int:
        return len(self.decoy_peers)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


def _listening(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


def _three_sockets() -> list[socket.socket]:
    """One port free on all three addresses (picked on the first, retried if taken)."""
    for _ in range(20):
        first = _listening(CHECKED, 0)
        port = first.getsockname()[1]
        taken: list[socket.socket] = [first]
        try:
            taken += [_listening(REBOUND, port), _listening(SYSTEM, port)]
        except OSError:
            for sock in taken:
                sock.close()
            continue
        return taken
    raise RuntimeError("no port free on all three loopback addresses")


@contextlib.asynccontextmanager
async def rebinding_stage(app: Any, **uvicorn_options: Any) -> AsyncIterator[Stage]:
    """Serve ``app`` (ASGI) on ``CHECKED``; count connections to the decoys."""
    real, *decoys = _three_sockets()
    peers: list[str] = []

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(str(writer.get_extra_info("sockname")[0]))
        writer.close()

    decoy_servers = [await asyncio.start_server(count, sock=sock) for sock in decoys]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", **uvicorn_options)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[real]))
    try:
        ready = asyncio.create_task(server.ready.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            ready.cancel()
            task.result()
            raise RuntimeError("test server exited during start-up")
        yield Stage(port=real.getsockname()[1], dns=Rebinding(), decoy_peers=peers)
    finally:
        server.should_exit = True
        for connection in list(server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        await task
        real.close()
        for decoy in decoy_servers:
            decoy.close()
            await decoy.wait_closed()


@dataclass(frozen=True)
class Certificates:
    """A test CA and a server certificate it signed, as files uvicorn can load."""

    ca_pem: str
    certfile: Path
    keyfile: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem)


def certificates(directory: Path, name: str) -> Certificates:
    """A CA, and a certificate for the DNS name ``name`` only (no IP address)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "loopwright test CA")])
    now = datetime.datetime.now(datetime.UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    certfile, keyfile = directory / f"{name}.crt", directory / f"{name}.key"
    certfile.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
    return Certificates(ca_pem=ca_pem, certfile=certfile, keyfile=keyfile)
