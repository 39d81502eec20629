"""Who is calling, stores, keys, worker processes and readiness."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .base import Model


class Me(Model):
    store_id: str | None
    role: str
    key_id: str | None = None
    name: str | None = None


class Store(Model):
    id: str
    name: str
    created_at: datetime


class Worker(Model):
    """A worker process on the database (operator): ``state`` is ``alive``, ``expired``
    (silent past its expiry) or ``fenced`` (declared dead, its runs recovered elsewhere)."""

    executor_id: str
    host: str
    pid: int
    version: str
    application_version: str
    started_at: datetime
    heartbeat_at: datetime
    fenced_at: datetime | None
    state: str


class Key(Model):
    id: str
    role: str
    name: str
    prefix: str
    created_at: datetime


class IssuedKey(Key):
    key: str
    """The key itself: shown only in this answer."""


class Readiness(Model):
    """``GET /readyz``: ``status`` (``ok`` or ``unavailable``) and, as extra fields, what each
    check found (``database``, ``migrations``, ``engine``, ``worker``, …)."""

    status: str

    @property
    def ready(self) -> bool:
        return self.status == "ok"

    @property
    def checks(self) -> dict[str, Any]:
        return dict(self.model_extra or {})
