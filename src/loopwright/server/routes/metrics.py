"""``GET /metrics``: the whole server's Prometheus metrics (see ``telemetry.metrics``)."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from loopwright.db.repos import usage
from loopwright.db.row_security import ALL_STORES
from loopwright.errors import Unauthenticated
from loopwright.server.auth import ServicesDep, bearer_token
from loopwright.telemetry import metrics

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {metrics.CONTENT_TYPE: {}}, "description": "Prometheus text format"},
        401: {"description": "metrics_token is set and was not given"},
    },
)
async def get_metrics(request: Request, svc: ServicesDep) -> Response:
    """Prometheus text format. Open, unless the operator set ``metrics_token`` (then a
    ``Bearer`` token)."""
    expected = svc.settings.metrics_token
    if expected is not None:
        given = bearer_token(request) or ""
        if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
            raise Unauthenticated("a valid metrics token is required")
    svc.runtime.models.report_breakers()
    now = datetime.now(UTC)
    async with svc.db.read(ALL_STORES) as session:
        found = await usage.unfinished_runs(session)
    counts = [
        metrics.RunCounts(store, status, n, (now - oldest).total_seconds() if oldest else 0.0)
        for store, status, n, oldest in found
    ]
    body = metrics.exposition(metrics.database_families(counts))
    return Response(body, media_type=metrics.CONTENT_TYPE)
