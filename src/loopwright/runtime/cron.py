"""Cron expressions in a time zone: validation with a reason, and the next fire times.

``cronsim`` reads 5 fields (minute first) or 6 (seconds first), and steps through daylight
saving changes in the zone (a time that does not exist that day is skipped, one that happens
twice fires once)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from loopwright.errors import ValidationFailed


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(
            f"unknown time zone {name!r} (an IANA name, such as Europe/Paris)",
            details={"field": "timezone"},
        ) from exc


def check(cron: str, timezone: str) -> None:
    """422 with the reason when the expression or the zone is not valid."""
    next_times(cron, timezone, after=datetime.now(UTC), count=1)


def next_times(cron: str, timezone: str, *, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times strictly after ``after``, in UTC."""
    local = after.astimezone(zone(timezone))
    try:
        times = list(islice(CronSim(cron, local), count))
    except (CronSimError, ValueError) as exc:
        raise ValidationFailed(
            f"invalid cron expression {cron!r}: {exc}", details={"field": "cron"}
        ) from exc
    except StopIteration:  # pragma: no cover - cronsim raises CronSimError for impossible dates
        times = []
    return [t.astimezone(UTC) for t in times]


def next_after(cron: str, timezone: str, after: datetime) -> datetime | None:
    found = next_times(cron, timezone, after=after, count=1)
    return found[0] if found else None
