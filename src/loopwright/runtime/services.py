"""What a run's workflow can reach in this process (the DBOS workflow is a module function, so
the runtime installs this once per process when it starts)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx2

from loopwright.crypto import SecretBox
from loopwright.db.database import Database
from loopwright.egress import EgressGuard
from loopwright.events.hub import EventHub
from loopwright.runtime.admission import Admitter
from loopwright.runtime.local_runs import LocalRuns
from loopwright.runtime.models import ModelResolver
from loopwright.runtime.workers import Identity
from loopwright.settings import Settings
from loopwright.tools.mcp import McpPool


@dataclass
class RunServices:
    settings: Settings
    db: Database
    hub: EventHub
    secrets: SecretBox
    egress: EgressGuard
    models: ModelResolver
    local: LocalRuns
    admitter: Admitter
    mcp: McpPool
    http: httpx2.AsyncClient
    worker: Identity  # this process's worker: the owner of the runs it executes


_installed: RunServices | None = None


def install(services: RunServices) -> None:
    global _installed
    _installed = services


def uninstall(services: RunServices) -> None:
    """Remove ``services`` if they are the ones installed: a runtime that never started (an
    API-only app) or that another runtime replaced must not take the current one away."""
    global _installed
    if _installed is services:
        _installed = None


def current() -> RunServices:
    if _installed is None:
        raise RuntimeError("the runtime has not started in this process")
    return _installed
