"""The store's rate limits and token budgets, counted in the database (``db.repos.counters``).

- A message (``submit.accept``, not a child run's) takes one of the store's runs of the UTC
  minute, and finds the store and its agent under their tokens of the minute and of the day:
  all in one statement of the message's transaction. Over runs/min the message is refused
  (429, ``Retry-After``), or with the store's ``queue`` policy its run books the first minute
  with room and waits ``queued`` until then (``runs.not_before``). Over tokens or a budget it
  is refused (429).
- Before each model request a run reserves an estimate of its tokens against the same
  counters (``TokenMeter``); the step's record settles it to what the provider reported, in
  its own transaction. A request the day's budget cannot cover is not sent (the run ends
  ``budget``); one the minute cannot cover waits for the next minute.
- A tool's calls per minute are taken one by one, in the call's transaction when it has one.

Windows are fixed UTC minutes and days (``m<minute number>``, ``d<day number>``); a counter
outlives its window by a window and the sweep deletes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.repos import counters
from loopwright.db.repos.counters import Take
from loopwright.domain.store_settings import StoreSettings
from loopwright.errors import RateLimited


def minute_of(now: float) -> int:
    return int(now // 60)


def day_of(now: float) -> int:
    return int(now // 86_400)


def runs_key(minute: int) -> str:
    return f"runs:m{minute}"


def tokens_minute_key(minute: int) -> str:
    return f"tokens:m{minute}"


def tokens_day_key(day: int) -> str:
    return f"tokens:d{day}"


def agent_day_key(agent_id: str, day: int) -> str:
    return f"agent:{agent_id}:d{day}"


def tool_key(tool: str, minute: int) -> str:
    return f"tool:{tool}:m{minute}"


def _minute_expiry(minute: int) -> int:
    return (minute + 2) * 60


def _day_expiry(day: int) -> int:
    return (day + 2) * 86_400


@dataclass(frozen=True, slots=True)
class Limit:
    take: Take
    name: str  # the setting
    value: int
    window_end: float  # epoch seconds


def _token_limits(settings: StoreSettings, agent_id: str, now: float, amount: int) -> list[Limit]:
    """The token counters a request (or, with ``amount=0``, a message: under, not at, the
    limit) takes from."""
    minute, day = minute_of(now), day_of(now)
    floor = 1 if amount == 0 else 0  # a message needs at least one token left
    found: list[Limit] = []
    if settings.tokens_per_min is not None:
        cap = settings.tokens_per_min - floor
        take = Take(tokens_minute_key(minute), amount, cap, _minute_expiry(minute))
        found.append(Limit(take, "tokens_per_min", settings.tokens_per_min, (minute + 1) * 60))
    day_end = (day + 1) * 86_400
    if settings.daily_token_budget is not None:
        cap = settings.daily_token_budget - floor
        take = Take(tokens_day_key(day), amount, cap, _day_expiry(day))
        found.append(Limit(take, "daily_token_budget", settings.daily_token_budget, day_end))
    agent_budget = settings.agent_daily_token_budgets.get(agent_id)
    if agent_budget is not None:
        take = Take(agent_day_key(agent_id, day), amount, agent_budget - floor, _day_expiry(day))
        found.append(Limit(take, "agent_daily_token_budget", agent_budget, day_end))
    return found


_WHAT = {
    "runs_per_min": "runs per minute",
    "tokens_per_min": "model tokens per minute",
    "daily_token_budget": "model tokens per day (the store's daily budget)",
    "agent_daily_token_budget": "model tokens per day for this agent (its daily budget)",
}


def _over(limit: Limit, now: float) -> RateLimited:
    retry = max(1.0, limit.window_end - now)
    return RateLimited(
        f"over the store's limit of {limit.value} {_WHAT[limit.name]}; try again in {retry:.0f} s",
        retry_after_s=retry,
        details={"limit": limit.name, "value": limit.value, "retry_after_s": round(retry)},
    )


_QUEUE_HORIZON_MIN = 60
"""How far ahead a queued message may book its minute (beyond it: 429)."""


async def admit_message(
    session: AsyncSession, store_id: str, agent_id: str, settings: StoreSettings
) -> datetime | None:
    """Take the message's run from runs/min and check the token limits, in the message's
    transaction; raises ``RateLimited`` (the caller's transaction rolls back). Returns when
    a run queued over runs/min may start (the ``queue`` policy), None for now."""
    now = time.time()
    minute = minute_of(now)
    limits = _token_limits(settings, agent_id, now, 0)
    if settings.runs_per_min is not None:
        runs = Take(runs_key(minute), 1, settings.runs_per_min, _minute_expiry(minute))
        limits.append(Limit(runs, "runs_per_min", settings.runs_per_min, (minute + 1) * 60))
    if not limits:
        return None
    refused = await counters.take(session, store_id, [limit.take for limit in limits])
    if not refused:
        return None
    over = [limit for limit in limits if limit.take.key in refused]
    tokens_over = [limit for limit in over if limit.name != "runs_per_min"]
    if tokens_over:
        raise _over(max(tokens_over, key=lambda limit: limit.window_end), now)
    if settings.over_limit == "queue" and settings.runs_per_min is not None:
        for later in range(minute + 1, minute + 1 + _QUEUE_HORIZON_MIN):
            booked = Take(runs_key(later), 1, settings.runs_per_min, _minute_expiry(later))
            if not await counters.take(session, store_id, [booked]):
                return datetime.fromtimestamp(later * 60, UTC)
    raise _over(over[0], now)


class BudgetExhausted(Exception):
    """The day's budget (or the minute, until the run's deadline) cannot cover a request."""


@dataclass(frozen=True, slots=True)
class Reservation:
    keys: tuple[str, ...]
    amount: int


async def reserve(
    session: AsyncSession, store_id: str, agent_id: str, settings: StoreSettings, amount: int
) -> Reservation | Limit | None:
    """Take ``amount`` tokens from every token limit at once: the reservation, the limit that
    refused it (the caller rolls back), or None when the store has no token limit."""
    limits = _token_limits(settings, agent_id, time.time(), amount)
    if not limits:
        return None
    refused = await counters.take(session, store_id, [limit.take for limit in limits])
    if refused:
        return max(
            (limit for limit in limits if limit.take.key in refused),
            key=lambda limit: limit.window_end,
        )
    return Reservation(tuple(limit.take.key for limit in limits), amount)


async def settle(session: AsyncSession, store_id: str, held: Reservation, used: int) -> None:
    """The reservation becomes what the request used (given back in part, or added to)."""
    await counters.add(session, store_id, held.keys, used - held.amount)


async def take_tool_call(
    session: AsyncSession, store_id: str, tool: str, per_min: int
) -> str | None:
    """One call of ``tool`` this minute, or why not."""
    minute = minute_of(time.time())
    take = Take(tool_key(tool, minute), 1, per_min, _minute_expiry(minute))
    if await counters.take(session, store_id, [take]):
        return f"rate limited: tool {tool!r} may be called {per_min} times per minute in this store"
    return None
