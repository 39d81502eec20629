"""The egress guard: URLs a store defines (HTTP tools, MCP servers, provider base URLs) may
not reach loopback, private, link-local or metadata addresses unless the operator allows it
(``LOOPWRIGHT_EGRESS_ALLOW``: comma-separated CIDRs and host names).

The decision is made on resolved addresses, so a public name that resolves to a private
address is refused too. The resolver is injectable so the decision is tested without I/O.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from loopwright.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], Awaitable[list[str]]]

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})
_EXTRA_BLOCKED = [
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT
    ipaddress.ip_network("169.254.0.0/16"),  # link-local, cloud metadata
    ipaddress.ip_network("fd00:ec2::/32"),  # AWS IPv6 metadata
]


class EgressDenied(ValidationFailed):
    code = "egress_denied"


async def system_resolver(host: str) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class EgressGuard:
    def __init__(self, allow: Iterable[str] = (), resolver: Resolver = system_resolver) -> None:
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

    @classmethod
    def from_setting(cls, value: str, resolver: Resolver = system_resolver) -> EgressGuard:
        return cls(value.split(","), resolver)

    def address_allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in net for net in self._networks):
            return True
        return not _is_internal(ip)

    async def check_url(self, url: str) -> None:
        """Raise ``EgressDenied`` unless every address the URL's host resolves to is allowed."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EgressDenied("only http(s) URLs with a host are allowed", details={"url": url})
        host = parts.hostname.lower().rstrip(".")
        if host in self._hosts:
            return
        if host in METADATA_HOSTS:
            raise EgressDenied(f"{host} is a metadata service", details={"host": host})
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                addresses = await self._resolve(host)
            except OSError as exc:
                raise EgressDenied(f"cannot resolve {host}", details={"host": host}) from exc
        if not addresses:
            raise EgressDenied(f"cannot resolve {host}", details={"host": host})
        refused = [a for a in addresses if not self.address_allowed(a)]
        if refused:
            raise EgressDenied(
                f"{host} resolves to an internal address; the operator can allow it with "
                "LOOPWRIGHT_EGRESS_ALLOW",
                details={"host": host, "addresses": refused},
            )


def _is_internal(ip: IPAddress) -> bool:
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or any(ip in net for net in _EXTRA_BLOCKED if net.version == ip.version)
    )
