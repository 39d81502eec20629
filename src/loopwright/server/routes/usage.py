"""A store's usage over time: runs, tokens and errors per hour or day, per agent or model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from loopwright.db.repos import usage
from loopwright.db.repos.usage import Counts, Series
from loopwright.db.row_security import ALL_STORES
from loopwright.errors import ValidationFailed
from loopwright.server.auth import OperatorDep, Reader, ServicesDep
from loopwright.server.schemas.usage import UsageCounts, UsagePublic, UsageSeries

router = APIRouter(prefix="/v1/stores/{store_id}/usage", tags=["usage"])
operator_router = APIRouter(prefix="/v1/usage", tags=["usage"])

STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
DEFAULT_SPAN = {"hour": timedelta(hours=24), "day": timedelta(days=30)}
MAX_BUCKETS = {"hour": 31 * 24, "day": 366}


Since = Annotated[
    datetime | None, Query(alias="from", description="start (UTC without a zone); or `since`")
]
Until = Annotated[
    datetime | None, Query(alias="to", description="end (UTC without a zone); or `until`")
]


@router.get("")
async def get_usage(
    access: Reader,
    svc: ServicesDep,
    since: Annotated[datetime | None, Query(description="start (UTC without a zone)")] = None,
    until: Annotated[datetime | None, Query(description="end (UTC without a zone)")] = None,
    start: Since = None,
    end: Until = None,
    bucket: Literal["hour", "day"] = "hour",
    group_by: Literal["agent", "model", "day"] | None = None,
) -> UsagePublic:
    """Buckets of runs (by status), tokens and errors, with totals. At most 744 hourly or 366
    daily buckets; the range is widened to whole buckets (``since`` floored, ``until``
    ceiled). ``group_by=day``: daily buckets of the whole store (``bucket=day``)."""
    if group_by == "day":
        bucket, group_by = "day", None
    first, last = bucket_range(since or start, until or end, bucket)
    async with svc.db.read(access.store_id) as session:
        found = await usage.usage(
            session, access.store_id, since=first, until=last, bucket=bucket, group_by=group_by
        )
    return _public(found, first, last, bucket, group_by)


@operator_router.get("")
async def get_usage_across_stores(
    _: OperatorDep,
    svc: ServicesDep,
    since: Annotated[datetime | None, Query(description="start (UTC without a zone)")] = None,
    until: Annotated[datetime | None, Query(description="end (UTC without a zone)")] = None,
    start: Since = None,
    end: Until = None,
    bucket: Literal["hour", "day"] = "hour",
    group_by: Literal["store", "model", "day"] | None = None,
) -> UsagePublic:
    """The operator's view: the same numbers over every store, per store, per model, or in
    all (operator key)."""
    if group_by == "day":
        bucket, group_by = "day", None
    first, last = bucket_range(since or start, until or end, bucket)
    async with svc.db.read(ALL_STORES) as session:
        found = await usage.usage_across_stores(
            session, since=first, until=last, bucket=bucket, group_by=group_by
        )
    return _public(found, first, last, bucket, group_by)


def _public(
    found: list[Series],
    first: datetime,
    last: datetime,
    bucket: Literal["hour", "day"],
    group_by: Literal["agent", "model", "store"] | None,
) -> UsagePublic:
    total = Counts()
    for one in found:
        for counts in one.points.values():
            total.add(counts)
    step = STEP[bucket]
    return UsagePublic(
        since=first,
        until=last,
        bucket=bucket,
        group_by=group_by,
        buckets=[first + i * step for i in range(int((last - first) / step))],
        totals=UsageCounts.of(total),
        series=[UsageSeries.of(one) for one in found],
    )


def bucket_range(
    since: datetime | None, until: datetime | None, bucket: Literal["hour", "day"]
) -> tuple[datetime, datetime]:
    """``[since, until)`` in UTC, widened to whole buckets; 422 when empty or too long."""
    end = _utc(until) if until is not None else datetime.now(UTC)
    begin = _utc(since) if since is not None else end - DEFAULT_SPAN[bucket]
    if begin >= end:
        raise ValidationFailed(
            "since must be before until",
            details=[{"loc": ["query", "since"], "type": "range", "message": "not before until"}],
        )
    ceiled = _floor(end, bucket)
    if ceiled < end:
        ceiled += STEP[bucket]
    begin, end = _floor(begin, bucket), ceiled
    count = int((end - begin) / STEP[bucket])
    if count > MAX_BUCKETS[bucket]:
        raise ValidationFailed(
            f"at most {MAX_BUCKETS[bucket]} {bucket} buckets; this range has {count}",
            details=[
                {
                    "loc": ["query", "since"],
                    "type": "range",
                    "message": f"range over {MAX_BUCKETS[bucket]} {bucket}s",
                }
            ],
        )
    return begin, end


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _floor(value: datetime, bucket: Literal["hour", "day"]) -> datetime:
    value = value.replace(minute=0, second=0, microsecond=0)
    return value.replace(hour=0) if bucket == "day" else value
