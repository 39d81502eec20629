"""Egress control for every URL a store defines: the guard's decision (``guard``, ``addresses``,
``urls``) and connections that keep to it (``transport``)."""

from loopwright.egress.guard import EgressDenied, EgressGuard, Resolver, system_resolver
from loopwright.egress.transport import GuardedTransport, no_cookies
from loopwright.egress.urls import BadUrl, url_problem

__all__ = [
    "BadUrl",
    "EgressDenied",
    "EgressGuard",
    "GuardedTransport",
    "Resolver",
    "no_cookies",
    "system_resolver",
    "url_problem",
]
