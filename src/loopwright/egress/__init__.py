"""Egress control for every URL a store defines: the URL's form (``urls``), refused addresses
(``addresses``), the guard's decision (``guard``) and connections that keep to it
(``transport``)."""

from loopwright.egress.guard import EgressDenied, EgressGuard
from loopwright.egress.transport import GuardedTransport, no_cookies
from loopwright.egress.urls import url_problem

__all__ = ["EgressDenied", "EgressGuard", "GuardedTransport", "no_cookies", "url_problem"]
