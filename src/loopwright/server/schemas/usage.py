"""A store's usage over time (the dashboard's numbers)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from loopwright.db.repos.usage import Counts, Series


class UsageCounts(BaseModel):
    runs: dict[str, int]  # by status; statuses without runs are left out
    runs_total: int
    input_tokens: int
    output_tokens: int
    failed_runs: int  # failed or timed_out
    failed_tool_calls: int  # tool calls with outcome "error"
    errors: int  # failed_runs + failed_tool_calls

    @classmethod
    def of(cls, counts: Counts) -> UsageCounts:
        return cls(
            runs=dict(sorted(counts.runs.items())),
            runs_total=sum(counts.runs.values()),
            input_tokens=counts.input_tokens,
            output_tokens=counts.output_tokens,
            failed_runs=counts.failed_runs,
            failed_tool_calls=counts.failed_tool_calls,
            errors=counts.failed_runs + counts.failed_tool_calls,
        )


class UsagePoint(UsageCounts):
    start: datetime


class UsageSeries(BaseModel):
    group: str | None  # the agent id, "provider:model" or store id; None: all, or no model
    label: str | None  # the agent's name (the id once the agent is gone), or the model
    totals: UsageCounts
    points: list[UsagePoint]  # only the buckets where something happened, oldest first

    @classmethod
    def of(cls, series: Series) -> UsageSeries:
        total = Counts()
        points = []
        for start in sorted(series.points):
            counts = series.points[start]
            total.add(counts)
            points.append(UsagePoint(start=start, **UsageCounts.of(counts).model_dump()))
        return cls(
            group=series.group, label=series.label, totals=UsageCounts.of(total), points=points
        )


class UsagePublic(BaseModel):
    since: datetime  # the first bucket's start
    until: datetime  # the end of the range (exclusive)
    bucket: Literal["hour", "day"]
    group_by: Literal["agent", "model", "store"] | None
    buckets: list[datetime]  # every bucket's start in the range, oldest first
    totals: UsageCounts  # the whole store over the range
    series: list[UsageSeries]
