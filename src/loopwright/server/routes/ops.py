"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from loopwright.db.migrate import head_revision
from loopwright.db.row_security import ALL_STORES
from loopwright.server.auth import ServicesDep

router = APIRouter(tags=["operations"])
_HEAD: list[str | None] = []  # the migrations' head, read from the scripts once


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(svc: ServicesDep) -> JSONResponse:
    """Ready for traffic: the database answers and its schema is at the migrations' head, the
    durable engine (DBOS) is launched and the worker takes runs (``off`` in an API-only
    process, ``busy`` at its ``worker_concurrency``). 503 with what is not."""
    if not _HEAD:
        _HEAD.append(head_revision())
    found: dict[str, str] = {}
    try:
        async with svc.db.read(ALL_STORES) as session:
            revision = await session.execute(text("SELECT version_num FROM alembic_version"))
            versions = {row[0] for row in revision}
        found["database"] = "ok"
        found["migrations"] = "ok" if _HEAD[0] in versions else "behind"
    except Exception as exc:  # readiness reports any failure of the database as "not ready"
        found["database"] = type(exc).__name__
        found["migrations"] = "unknown"
    found.update(svc.runtime.readiness())
    good = {"ok", "off", "busy"}
    ready = all(value in good for value in found.values())
    status = {"status": "ok" if ready else "unavailable", **found}
    return JSONResponse(status, status_code=200 if ready else 503)
