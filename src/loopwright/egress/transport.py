"""HTTP connections that go only where the egress guard allows.

``GuardedTransport`` is httpx2's transport whose pool opens each connection through
``GuardedBackend``: the host is resolved by the guard (``EgressGuard.addresses``: every address
checked, the lookup remembered briefly), and the socket connects to one of those checked
addresses; DNS is never asked again between the check and the connection (no rebinding
window). The request keeps its URL, so the Host header, TLS SNI and certificate verification
use the host name. A refused host raises ``EgressDenied`` from the request.

Clients on this transport take no proxy from the environment (a proxy would connect for us).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from functools import cache
from http.cookiejar import CookieJar, DefaultCookiePolicy

import anyio
import httpcore2
import httpx2

from loopwright.egress.guard import EgressGuard

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)
DEFAULT_LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20)


@cache
def tls_context() -> ssl.SSLContext:
    """httpx2's default verification, built once (loading the trust store costs ~20-50 ms)."""
    return httpx2.create_ssl_context()


def no_cookies() -> CookieJar:
    """A cookie jar that keeps nothing: for a client many stores share, where one store's
    server must not set a cookie that another store's request carries."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class GuardedBackend(httpcore2.AsyncNetworkBackend):
    """Resolves through the guard and connects to the checked addresses, in order."""

    def __init__(self, guard: EgressGuard) -> None:
        self._guard = guard
        self._sockets = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore2's interface
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self._guard.addresses(host)
                return await self._first_to_answer(addresses, port, local_address, socket_options)
        except TimeoutError as exc:
            raise httpcore2.ConnectTimeout(f"no connection to {host} within {timeout} s") from exc

    async def _first_to_answer(
        self,
        addresses: list[str],
        port: int,
        local_address: str | None,
        socket_options: Iterable[SocketOption] | None,
    ) -> httpcore2.AsyncNetworkStream:
        failures: list[httpcore2.ConnectError] = []
        for address in addresses:
            try:
                return await self._sockets.connect_tcp(
                    address, port, local_address=local_address, socket_options=socket_options
                )
            except httpcore2.ConnectError as exc:
                failures.append(exc)
        raise failures[-1]  # the guard never returns an empty list

    async def sleep(self, seconds: float) -> None:
        await self._sockets.sleep(seconds)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's transport (HTTP/1.1, no proxy) over ``GuardedBackend``."""

    def __init__(
        self,
        guard: EgressGuard,
        *,
        limits: httpx2.Limits = DEFAULT_LIMITS,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        context = verify or tls_context()
        super().__init__(verify=context, trust_env=False, limits=limits)
        # httpx2 2.16 has no parameter for its pool's network backend, so the pool it built is
        # replaced by the same one over ours (the rebinding tests fail if this stops working).
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(guard),
        )
