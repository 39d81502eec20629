"""``loopwright worker``: the worker half of ``serve --no-worker`` — runs the queued runs of the
database it shares with the API processes, serving no HTTP."""

from __future__ import annotations

import asyncio
import signal

from loopwright.db.database import Database
from loopwright.db.migrate import upgrade
from loopwright.events.notifier import make_hub, start_notifiers, stop_notifiers
from loopwright.runtime.runner import Runtime
from loopwright.settings import Settings


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (default: until SIGINT or SIGTERM)."""
    stop = stop or _stop_on_signals()
    settings.ensure_data_dir()
    await asyncio.to_thread(upgrade, settings.app_database_url)
    db = Database(settings.app_database_url, settings.db_pool_size)
    hub = make_hub(settings)
    db.on_commit(hub.publish)
    # Live-only events (token deltas) reach the API processes through the notifiers.
    notifiers = await start_notifiers(settings, db, hub, streams=False)
    runtime = Runtime(settings, db, hub)
    try:
        await runtime.start()
        await stop.wait()
    finally:
        await runtime.stop()
        await runtime.mcp.close()
        await stop_notifiers(notifiers)
        await db.dispose()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
