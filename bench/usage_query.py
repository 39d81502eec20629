"""Time of the usage endpoint's queries (``db.repos.usage``) over a store with many runs.

Seeds ``--runs`` runs spread evenly over the last 30 days in one store (two model steps and one
tool call each, one run in ten failed, one call in five an error) beside ``--other-stores``
stores with as many runs each, then times ``usage()`` for the dashboard's questions: the last
24 hours by hour and the last 30 days by day, ungrouped, per agent and per model; p50 of
``--repeat`` calls each.

    .venv/bin/python -m bench.usage_query [--runs 20000] [--other-stores 2]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/<an empty database>]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from loopwright.db.database import Database
from loopwright.db.migrate import upgrade
from loopwright.db.repos import usage
from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import AgentRow, RunRow, RunStepRow, SessionRow, StoreRow, ToolCallRow
from loopwright.ids import new_id

AGENTS = 5
BATCH = 2000


async def seed(
    db: Database, store_id: str, runs: int, now: datetime, *, new_store: bool = True
) -> list[str]:
    """Insert ``runs`` runs (and their steps and tool calls) into ``store_id``; their ids."""
    agents = [new_id("agt") for _ in range(AGENTS)]
    sessions = [new_id("ses") for _ in range(AGENTS)]
    run_ids: list[str] = []
    async with db.write(ALL_STORES) as session:
        if new_store:
            await session.execute(insert(StoreRow), [{"id": store_id, "name": store_id}])
        await session.execute(
            insert(AgentRow),
            [
                {"id": a, "store_id": store_id, "name": a, "model": "offline:default"}
                for a in agents
            ],
        )
        await session.execute(
            insert(SessionRow),
            [
                {"id": s, "store_id": store_id, "agent_id": a}
                for s, a in zip(sessions, agents, strict=True)
            ],
        )
    span = timedelta(days=30) / runs
    for first in range(0, runs, BATCH):
        run_rows: list[dict[str, Any]] = []
        step_rows: list[dict[str, Any]] = []
        call_rows: list[dict[str, Any]] = []
        for i in range(first, min(first + BATCH, runs)):
            at = now - i * span
            run_id = new_id("run")
            run_ids.append(run_id)
            run_rows.append(
                {
                    "id": run_id,
                    "store_id": store_id,
                    "session_id": sessions[i % AGENTS],
                    "agent_id": agents[i % AGENTS],
                    "status": "failed" if i % 10 == 0 else "completed",
                    "steps": 2,
                    "input_tokens": 200,
                    "output_tokens": 40,
                    "created_at": at,
                    "started_at": at,
                    "finished_at": at + timedelta(seconds=1),
                }
            )
            for index in (0, 1):
                step_rows.append(
                    {
                        "id": new_id("stp"),
                        "store_id": store_id,
                        "run_id": run_id,
                        "index": index,
                        "provider": "offline",
                        "model": "default" if i % 3 else "large",
                        "input_tokens": 100,
                        "output_tokens": 20,
                        "created_at": at,
                    }
                )
            call_rows.append(
                {
                    "id": new_id("tcl"),
                    "store_id": store_id,
                    "run_id": run_id,
                    "call_id": "c1",
                    "agent_id": agents[i % AGENTS],
                    "tool_name": "create_task",
                    "outcome": "error" if i % 5 == 0 else "ok",
                    "result": {"ok": True},
                    "created_at": at,
                }
            )
        async with db.write(ALL_STORES) as session:
            await session.execute(insert(RunRow), run_rows)
            await session.execute(insert(RunStepRow), step_rows)
            await session.execute(insert(ToolCallRow), call_rows)
    return run_ids


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--other-stores", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'usage.db'}"
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        now = datetime.now(UTC)
        started = time.perf_counter()
        for n in range(args.other_stores + 1):
            await seed(db, f"bench-{n}", args.runs, now)
        print(
            f"seeded {args.other_stores + 1} stores x {args.runs} runs in "
            f"{time.perf_counter() - started:.1f} s"
        )
        for bucket, span in (("hour", timedelta(hours=24)), ("day", timedelta(days=30))):
            for group_by in (None, "agent", "model"):
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    async with db.read(ALL_STORES) as session:
                        found = await usage.usage(
                            session,
                            "bench-0",
                            since=now - span,
                            until=now,
                            bucket=bucket,  # type: ignore[arg-type]
                            group_by=group_by,  # type: ignore[arg-type]
                        )
                    times.append((time.perf_counter() - t0) * 1000)
                runs = sum(sum(c.runs.values()) for s in found for c in s.points.values())
                print(
                    f"{bucket:>4} over {span.days or 1:>2} d, group_by={group_by!s:<5}: "
                    f"p50 {statistics.median(times):7.1f} ms ({runs} runs counted)"
                )
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
