"""A worker process as the operator sees it (``GET /v1/workers``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from loopwright.db.tables import WorkerRow
from loopwright.server.schemas.common import Output

WorkerState = Literal["alive", "expired", "fenced"]


class WorkerPublic(Output):
    executor_id: str
    host: str
    pid: int
    version: str = Field(description="Loopwright's version in that process")
    application_version: str = Field(description="DBOS's application version")
    started_at: datetime
    heartbeat_at: datetime
    fenced_at: datetime | None
    state: WorkerState = Field(
        description="alive; expired (silent past heartbeat_expiry_s: a live worker fences it "
        "at its next beat); fenced (declared dead, its runs recovered elsewhere)"
    )

    @classmethod
    def of(cls, row: WorkerRow, state: WorkerState) -> WorkerPublic:
        return cls(
            executor_id=row.executor_id,
            host=row.host,
            pid=row.pid,
            version=row.version,
            application_version=row.application_version,
            started_at=row.started_at,
            heartbeat_at=row.heartbeat_at,
            fenced_at=row.fenced_at,
            state=state,
        )
