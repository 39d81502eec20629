"""The app factory: ``create_app(settings)`` wires the database, the event hub and the runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from loopwright import __version__
from loopwright.db.database import Database
from loopwright.db.migrate import upgrade
from loopwright.events.notifier import make_hub, start_notifiers, stop_notifiers
from loopwright.runtime.runner import Runtime
from loopwright.server import errors, openapi, smtp
from loopwright.server.body_limit import BodyLimit
from loopwright.server.key_cache import KeyCache
from loopwright.server.observe import Observe
from loopwright.server.routes import (
    agents,
    audit,
    deliveries,
    events,
    guardrails,
    hooks,
    mail,
    mailbox,
    mcp_servers,
    me,
    memory,
    metrics,
    ops,
    plans,
    providers,
    runs,
    schedules,
    sessions,
    stores,
    tools,
    ui,
    usage,
    webhooks,
    workers,
    workspace,
    ws,
)
from loopwright.server.services import Services
from loopwright.settings import Settings
from loopwright.telemetry import metrics as recorded_metrics
from loopwright.telemetry import tracing


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """``router``'s routes, in order, into the app's own list. ``include_router`` would add
    the router as one lazily combined entry that a request searches twice (FastAPI 0.165):
    ~1 ms of CPU per request to find a route late in the list (measured with
    ``bench.api_routing``). Our routers carry their prefixes, tags and dependencies
    themselves (their routes were built with them), and were included with no options of
    their own, so the routes are the same either way."""
    app.router.routes.extend(router.routes)


def create_app(
    settings: Settings, *, run_worker: bool = True, on_ready: Callable[[], None] | None = None
) -> FastAPI:
    """``on_ready``: called once the app has started (the supervisor's readiness signal)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.ensure_data_dir()
        recorded_metrics.record(settings.metrics)
        if settings.otlp_endpoint:
            tracing.setup(
                settings.otlp_endpoint,
                headers=settings.otlp_header_map(),
                content=settings.trace_content,
                instance=settings.process_executor_id,
            )
        await asyncio.to_thread(upgrade, settings.app_database_url)
        db = Database(settings.app_database_url, settings.db_pool_size)
        db.wake_workers = not run_worker  # its runs are the workers' to admit
        hub = make_hub(settings)
        db.on_commit(hub.publish)
        notifiers = await start_notifiers(settings, db, hub)
        runtime = Runtime(settings, db, hub)
        app.state.services = Services(
            settings=settings, db=db, hub=hub, runtime=runtime, keys=KeyCache(settings.key_cache_s)
        )
        app.state.mcp_pool = runtime.mcp
        if run_worker:
            await runtime.start()
        mail_server = await smtp.start(settings, db, runtime.submit) if run_worker else None
        app.state.smtp = mail_server
        if on_ready is not None:
            on_ready()
        try:
            yield
        finally:
            if mail_server is not None:
                mail_server.close()
            await runtime.stop()
            await runtime.mcp.close()
            await stop_notifiers(notifiers)
            await db.dispose()
            if settings.otlp_endpoint:
                tracing.shutdown()  # sends what is buffered (DBOS has shut the default executor)

    app = FastAPI(
        title="Loopwright",
        version=__version__,
        summary="A self-hostable, multi-tenant agent server.",
        lifespan=lifespan,
        docs_url=None,  # served by routes.ui from vendored assets (works offline)
        redoc_url=None,
    )
    errors.install(app)
    openapi.install(app)
    routers = (
        ops,
        metrics,
        me,
        stores,
        providers,
        agents,
        sessions,
        runs,
        plans,
        events,
        workspace,
        memory,
        tools,
        mcp_servers,
        audit,
        usage,
        guardrails,
        schedules,
        webhooks,
        hooks,
        deliveries,
        mail,
        mailbox,
        workers,
    )
    for router in (
        *(module.router for module in (*routers, ws, ui)),
        usage.operator_router,
        schedules.preview_router,
    ):
        add_routes(app, router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(Observe)
    return app
