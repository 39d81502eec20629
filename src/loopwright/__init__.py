"""Loopwright: a self-hostable, multi-tenant agent server."""

__version__ = "0.1.0"
