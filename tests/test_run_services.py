"""The process's run services: a runtime that stops takes away only its own."""

from __future__ import annotations

from pathlib import Path

from loopwright.db.database import Database
from loopwright.events.hub import EventHub
from loopwright.runtime import services
from loopwright.runtime.runner import Runtime
from tests.conftest import make_settings


async def test_an_api_only_runtime_stopping_leaves_the_running_ones_services(
    tmp_path: Path,
) -> None:
    """An API-only app (``run_worker=False``) stops a runtime it never started; the runtime
    of the server beside it in the same process must keep its services."""
    settings = make_settings(tmp_path)
    db = Database(settings.app_database_url)
    running, idle = Runtime(settings, db, EventHub()), Runtime(settings, db, EventHub())
    session_server = services._installed  # the suite's in-process server, given back below
    services.install(running.services())
    try:
        await idle.stop()
        assert services.current() is running.services()
    finally:
        await running.stop()
        services._installed = session_server
        await db.dispose()
