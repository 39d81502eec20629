"""The egress guard: URLs a store defines (HTTP tools, MCP servers, provider base URLs) may
not reach loopback, private, link-local or metadata addresses unless the operator allows it
(``LOOPWRIGHT_EGRESS_ALLOW``: comma-separated CIDRs and host names).

The decision is made on resolved addresses, so a public name that resolves to a private
address is refused too. A name's checked addresses are remembered for ``remember_s``: the
connection (``egress.transport``) goes to an address from the same lookup the guard judged, so
a second answer from DNS (rebinding) is never used. The resolver and the clock are injectable
so the decision is tested without I/O.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from ipaddress import IPv6Address
from typing import Final

from loopwright.egress.addresses import IPNetwork, embedded_ipv4, is_internal, stands_for_ipv4
from loopwright.egress.urls import BadUrl, check_host, target_of
from loopwright.errors import ValidationFailed

Resolver = Callable[[str], Awaitable[list[str]]]
Clock = Callable[[], float]

METADATA_HOSTS: Final = frozenset({"metadata.google.internal", "metadata", "instance-data"})
REMEMBER_S: Final = 30.0
REMEMBERED_HOSTS: Final = 1024


class EgressDenied(ValidationFailed):
    code = "egress_denied"


async def system_resolver(host: str) -> list[str]:
    """The host's addresses in the system's order of preference, each once."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class EgressGuard:
    def __init__(
        self,
        allow: Iterable[str] = (),
        resolver: Resolver = system_resolver,
        *,
        remember_s: float = REMEMBER_S,
        clock: Clock = time.monotonic,
    ) -> None:
        self._networks: list[IPNetwork] = []
        self._hosts: set[str] = set()
        for entry in (e.strip() for e in allow):
            if not entry:
                continue
            try:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self._hosts.add(entry.lower().rstrip("."))
        self._resolve = resolver
        self._remember_s = remember_s
        self._clock = clock
        self._remembered: dict[str, tuple[float, list[str]]] = {}

    @classmethod
    def from_setting(cls, value: str, resolver: Resolver = system_resolver) -> EgressGuard:
        return cls(value.split(","), resolver)

    def address_allowed(self, address: str) -> bool:
        """Whether a store may connect to ``address`` (no I/O)."""
        ip = ipaddress.ip_address(address)
        if any(ip in net for net in self._networks if net.version == ip.version):
            return True
        if isinstance(ip, IPv6Address):
            carried = embedded_ipv4(ip)
            if not all(self.address_allowed(str(inner)) for inner in carried):
                return False
            if stands_for_ipv4(ip):
                return True
        return not is_internal(ip)

    async def check_url(self, url: str) -> None:
        """Raise ``EgressDenied`` unless ``url`` is well formed and every address its host
        resolves to is allowed (a host the operator allows by name is not resolved)."""
        try:
            host = target_of(url).host
        except BadUrl as exc:
            raise EgressDenied(str(exc), details={"url": url}) from None
        if host.removesuffix(".") not in self._hosts:
            await self.addresses(host)

    async def addresses(self, host: str) -> list[str]:
        """The addresses to connect to for ``host`` (as a URL carries it), every one allowed:
        the lookup of at most ``remember_s`` ago, or a new one. Raises ``EgressDenied``."""
        host = host.lower()
        try:
            check_host(host)
        except BadUrl as exc:
            raise EgressDenied(str(exc), details={"host": host}) from None
        name = host.removesuffix(".")
        if name in METADATA_HOSTS and name not in self._hosts:
            raise EgressDenied(f"{name} is a metadata service", details={"host": name})
        if _is_literal(host):
            self._judge(host, [host])
            return [host]
        remembered = self._remembered.get(name)
        if remembered is not None and remembered[0] > self._clock():
            return remembered[1]
        found = await self._lookup(name)
        if name not in self._hosts:
            self._judge(name, found)
        self._remember(name, found)
        return found

    async def _lookup(self, host: str) -> list[str]:
        try:
            found = await self._resolve(host)
        except (OSError, UnicodeError) as exc:
            raise EgressDenied(f"cannot resolve {host}", details={"host": host}) from exc
        if not found:
            raise EgressDenied(f"cannot resolve {host}", details={"host": host})
        return found

    def _judge(self, host: str, addresses: list[str]) -> None:
        refused = [a for a in addresses if not self.address_allowed(a)]
        if refused:
            raise EgressDenied(
                f"{host} resolves to an internal address; the operator can allow it with "
                "LOOPWRIGHT_EGRESS_ALLOW",
                details={"host": host, "addresses": refused},
            )

    def _remember(self, host: str, addresses: list[str]) -> None:
        now = self._clock()
        self._remembered.pop(host, None)  # re-inserted below: the dict stays in age order
        if len(self._remembered) >= REMEMBERED_HOSTS:
            for stale in [h for h, (until, _) in self._remembered.items() if until <= now]:
                del self._remembered[stale]
        if len(self._remembered) >= REMEMBERED_HOSTS:
            del self._remembered[next(iter(self._remembered))]  # the oldest entry
        self._remembered[host] = (now + self._remember_s, addresses)


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
