"""Which IP addresses a store may not reach, and the IPv4 addresses some IPv6 addresses carry.

Pure functions: the guard combines them with the operator's allow list.

An IPv6 address can lead to an IPv4 one: IPv4-mapped (``::ffff:0:0/96``, the same socket
address), IPv4-compatible (``::/96``, deprecated), NAT64 (``64:ff9b::/96``, a translator forwards
to the address in its last 32 bits), 6to4 (``2002::/16``, bits 16-47, relayed over IPv4) and
Teredo (``2001::/32``: the server in bits 32-63, the client in the last 32 bits, inverted). Such
an address is refused when an IPv4 address it carries is. The local-use NAT64 prefix
(``64:ff9b:1::/48``) is refused outright: where its IPv4 address sits depends on the local
translator's prefix length, which only that network knows.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv6Address
from typing import Final

IPAddress = IPv4Address | IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
IPV4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")
_EXTRA_BLOCKED: Final[tuple[IPNetwork, ...]] = (
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT
    ipaddress.ip_network("169.254.0.0/16"),  # link-local, cloud metadata
    ipaddress.ip_network("fd00:ec2::/32"),  # AWS IPv6 metadata
    ipaddress.ip_network("64:ff9b:1::/48"),  # local-use NAT64 (RFC 8215)
)
_LOW_32_BITS: Final = 0xFFFFFFFF


def embedded_ipv4(ip: IPv6Address) -> tuple[IPv4Address, ...]:
    """The IPv4 addresses ``ip`` leads to (see the module docstring); ``()`` for none."""
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip.teredo is not None:
        return ip.teredo  # (server, client)
    if ip in NAT64 or ip in IPV4_COMPATIBLE:
        return (IPv4Address(int(ip) & _LOW_32_BITS),)
    return ()


def stands_for_ipv4(ip: IPv6Address) -> bool:
    """Whether ``ip`` only names its IPv4 address (mapped, NAT64), so that address decides alone."""
    return ip.ipv4_mapped is not None or ip in NAT64


def is_internal(ip: IPAddress) -> bool:
    """Whether the address itself is loopback, private, link-local, multicast, reserved,
    unspecified, carrier-grade NAT or a metadata range (embedded addresses aside)."""
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or any(ip in net for net in _EXTRA_BLOCKED if net.version == ip.version)
    )
