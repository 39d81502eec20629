"""Where a URL would connect, judged by its form alone (no I/O).

``target_of`` parses a URL the way httpx2, the client that sends it, does, so the guard and the
client agree on the host; the standard library must be able to parse it too. A host is an IP
address or a DNS name whose labels (after IDNA encoding) are 1-63 letters, digits, hyphens or
underscores, 253 characters at most in all; the port is 1-65535.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import httpx2

SCHEMES: Final = ("http", "https")
DEFAULT_PORTS: Final = {"http": 80, "https": 443}
MAX_NAME_CHARS: Final = 253
MAX_LABEL_CHARS: Final = 63
_LABEL: Final = re.compile(r"^[a-z0-9_-]+$")


class BadUrl(ValueError):
    """A URL no request can be sent to; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    """As the client connects: an IP address (no brackets) or a lower-case ASCII name."""
    port: int


def target_of(url: str) -> Target:
    """The scheme, host and port ``url`` connects to; ``BadUrl`` if it cannot be used."""
    try:
        urlsplit(url).port  # noqa: B018 - parsing is the check: brackets, port digits and range
        parsed = httpx2.URL(url)
    except (ValueError, httpx2.InvalidURL) as exc:
        raise BadUrl(f"not a valid URL: {exc}") from None
    if parsed.scheme not in SCHEMES or not parsed.raw_host:
        raise BadUrl("only http(s) URLs with a host are allowed")
    port = parsed.port if parsed.port is not None else DEFAULT_PORTS[parsed.scheme]
    if not 1 <= port <= 65535:
        raise BadUrl(f"port {port} is out of range (1-65535)")
    host = parsed.raw_host.decode("ascii")
    check_host(host)
    return Target(parsed.scheme, host, port)


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be used (``None`` when it can)."""
    try:
        target_of(url)
    except BadUrl as exc:
        return str(exc)
    return None


def check_host(host: str) -> None:
    """Raise ``BadUrl`` unless ``host`` (lower-case ASCII) is an IP address or a valid name."""
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise BadUrl(f"{host!r} is not a valid IPv6 address") from None
        return
    name = host.removesuffix(".")
    if len(name) > MAX_NAME_CHARS:
        raise BadUrl(f"the host name has {len(name)} characters; at most {MAX_NAME_CHARS}")
    for label in name.split("."):
        if len(label) > MAX_LABEL_CHARS:
            raise BadUrl(
                f"the host name label {label[:20]}... has {len(label)} characters; "
                f"at most {MAX_LABEL_CHARS}"
            )
        if not _LABEL.match(label):
            raise BadUrl(
                f"{host!r} is not a valid host name: its labels are letters, digits, hyphens "
                "or underscores, separated by single dots"
            )
