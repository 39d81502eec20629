"""HTTP connections that go only where the egress guard allows.

``GuardedTransport`` is ``Http11Transport`` resolving through the guard
(``EgressGuard.addresses``: every address checked, the lookup remembered briefly): the socket
connects to one of those checked addresses, and DNS is never asked again between the check
and the connection (no rebinding window). The request keeps its URL, so the Host header, TLS
SNI and certificate verification use the host name. A refused host raises ``EgressDenied``
from the request.

Clients on this transport take no proxy from the environment (a proxy would connect for us).
"""

from __future__ import annotations

import ssl
from functools import cache
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx2

from loopwright.egress.guard import EgressGuard
from loopwright.egress.http11 import DEFAULT_LIMITS, Http11Transport


@cache
def tls_context() -> ssl.SSLContext:
    """httpx2's default verification, built once (loading the trust store costs ~20-50 ms)."""
    return httpx2.create_ssl_context()


def no_cookies() -> CookieJar:
    """A cookie jar that keeps nothing: for a client many stores share, where one store's
    server must not set a cookie that another store's request carries."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class GuardedTransport(Http11Transport):
    """``Http11Transport`` connecting only to the addresses the guard checked."""

    def __init__(
        self,
        guard: EgressGuard,
        *,
        limits: httpx2.Limits = DEFAULT_LIMITS,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(guard.addresses, limits=limits, verify=verify or tls_context())
