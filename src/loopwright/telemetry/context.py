"""The ids a log line carries: the HTTP request's id and the store, session and run it acts
for. Context variables, so each request and each run's workflow (a task of its own) has its
own; set where they become known (the request middleware, the run's workflow)."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("loopwright_request_id", default=None)
store_id: ContextVar[str | None] = ContextVar("loopwright_store_id", default=None)
session_id: ContextVar[str | None] = ContextVar("loopwright_session_id", default=None)
run_id: ContextVar[str | None] = ContextVar("loopwright_run_id", default=None)

FIELDS: tuple[tuple[str, ContextVar[str | None]], ...] = (
    ("request_id", request_id),
    ("store_id", store_id),
    ("session_id", session_id),
    ("run_id", run_id),
)


def current() -> dict[str, str]:
    """The ids known here, by name (only those that are set)."""
    found: dict[str, str] = {}
    for name, var in FIELDS:
        value = var.get()
        if value is not None:
            found[name] = value
    return found


def for_run(store: str, session: str, run: str) -> None:
    """In a run's workflow task: its lines name the run (the task's own context)."""
    store_id.set(store)
    session_id.set(session)
    run_id.set(run)
