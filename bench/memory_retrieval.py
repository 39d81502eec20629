"""Long-term memory retrieval: latency at scale, and ranking quality on a fixed corpus.

Latency: one store with ``--memories`` memories (10,000) over 5 agents, each agent's own
plus a tenth shared; the agent's budget holds 100 memories. ``runtime.memory.choose`` (the
run's retrieval: full-text candidates, standing preferences, scoring, budget) is timed for
``--queries`` different messages, p50 / p99, against a baseline measured in the same run: the
plain indexed read of 100 of the agent's memories (what any retrieval has to read).

Quality: a corpus built by this script (``corpus()``, fixed, no randomness): 20 topics x 10
memories, each memory naming its topic by one of the topic's synonyms (``cat``, ``kitten``,
``feline``, ``kitty``) with a detail of its own, plus 40 distractors on no topic: 240 memories.
40 judged queries, two per topic: one that uses a word the topic's memories use, one that uses
only a synonym few or none of them use; the relevant items of a query are its topic's 10
memories. precision@5 and recall@10 of full-text alone and of hybrid (full-text + the fake
embedding of ``tests/fake_embeddings.py``, which maps synonyms to one axis as a semantic model
would). The corpus is made to need synonyms, so it shows what hybrid adds, not a general
figure for either.

    .venv/bin/python -m bench.memory_retrieval [--memories 10000] [--queries 200]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/<an empty database>]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import insert, select
from tests.fake_embeddings import SYNONYM_GROUPS, embed

from loopwright.db.database import Database
from loopwright.db.migrate import upgrade
from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import AgentRow, MemoryRow, StoreRow
from loopwright.db.tables.base import utcnow
from loopwright.ids import new_id
from loopwright.runtime.memory import Query, choose, tokens_of

AGENTS = 5
BATCH = 2000
MODEL = "fake:embed"
DETAILS = (
    "was mentioned on Monday",
    "matters a lot to the user",
    "came up during the trip to Lisbon",
    "is part of the weekly routine",
    "was discussed with the accountant",
    "should be checked again in spring",
    "is linked to the Berlin project",
    "was a surprise last year",
    "is noted for the next review",
    "needs a reminder in June",
)
FILLER = (
    "The quarterly report template lives in the shared drive",
    "Meetings on Thursday start at ten",
    "The printer on the third floor jams often",
    "Passwords rotate every ninety days",
    "The team lunch is on the last Friday",
    "Invoices are approved by the finance lead",
    "The wiki has a page on onboarding",
    "Backups run nightly at two",
)


def corpus() -> tuple[list[tuple[str, str]], list[tuple[str, set[str]]]]:
    """(memory key, content) pairs and (query, relevant keys) pairs; see the module."""
    topics = list({group[0]: group for group in SYNONYM_GROUPS}.values())[:20]
    memories: list[tuple[str, str]] = []
    queries: list[tuple[str, set[str]]] = []
    for t, group in enumerate(topics):
        keys = set()
        for i, detail in enumerate(DETAILS):
            word = group[0] if i < 6 else group[1 + i % (len(group) - 1)]
            key = f"t{t}m{i}"
            memories.append((key, f"The user's {word} {detail}"))
            keys.add(key)
        queries.append((f"What do you know about my {group[0]}?", keys))
        queries.append((f"Tell me about the {group[-1]} again", keys))
    for i in range(40):
        memories.append((f"f{i}", f"{FILLER[i % len(FILLER)]} (note {i})"))
    return memories, queries


async def seed(
    db: Database, store: str, agent: str, contents: Sequence[str], vectors: bool
) -> list[str]:
    ids = [new_id("mem") for _ in contents]
    now = utcnow()
    async with db.write(ALL_STORES) as session:
        for start in range(0, len(contents), BATCH):
            rows = [
                {
                    "id": ids[i],
                    "store_id": store,
                    "agent_id": agent,
                    "content": contents[i],
                    "type": "fact",
                    "importance": 0.5,
                    "access_count": 0,
                    "shared": False,
                    "embedding": embed(contents[i]) if vectors else None,
                    "embedding_model": MODEL if vectors else None,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(start, min(start + BATCH, len(contents)))
            ]
            await session.execute(insert(MemoryRow), rows)
    return ids


async def new_store(db: Database, agents: int) -> tuple[str, list[str]]:
    store = new_id("st")
    agent_ids = [new_id("agt") for _ in range(agents)]
    async with db.write(ALL_STORES) as session:
        await session.execute(insert(StoreRow), [{"id": store, "name": store}])
        await session.execute(
            insert(AgentRow),
            [
                {"id": a, "store_id": store, "name": a, "model": "offline:default"}
                for a in agent_ids
            ],
        )
    return store, agent_ids


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def latency(db: Database, memories: int, queries: int) -> dict[str, float]:
    store, agents = await new_store(db, AGENTS)
    vocabulary = [w for group in SYNONYM_GROUPS for w in group]
    per_agent = memories // AGENTS
    for a, agent in enumerate(agents):
        contents = [
            f"{vocabulary[(i * 7 + a) % len(vocabulary)]} {DETAILS[i % len(DETAILS)]} "
            f"{vocabulary[(i * 13 + 3) % len(vocabulary)]} item {i}"
            for i in range(per_agent)
        ]
        await seed(db, store, agent, contents, vectors=False)
    budget = 100 * tokens_of(f"{vocabulary[0]} {DETAILS[0]} {vocabulary[1]} item 1000")
    agent = agents[0]
    timed: list[float] = []
    baseline: list[float] = []
    chosen_counts: list[int] = []
    for q in range(queries):
        text = f"what about the {vocabulary[q % len(vocabulary)]} that {DETAILS[q % len(DETAILS)]}"
        async with db.read(ALL_STORES) as session:
            started = time.perf_counter()
            chosen = await choose(session, Query(store, agent, text, budget))
            timed.append((time.perf_counter() - started) * 1000)
            chosen_counts.append(len(chosen))
            started = time.perf_counter()
            rows = await session.scalars(
                select(MemoryRow)
                .where(MemoryRow.store_id == store, MemoryRow.agent_id == agent)
                .limit(100)
            )
            list(rows)
            baseline.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": statistics.median(timed),
        "p99_ms": percentile(timed, 0.99),
        "baseline_p50_ms": statistics.median(baseline),
        "chosen_median": statistics.median(chosen_counts),
    }


async def quality(db: Database) -> dict[str, dict[str, float]]:
    memories, queries = corpus()
    store, [agent] = await new_store(db, 1)
    ids = await seed(db, store, agent, [c for _, c in memories], vectors=True)
    key_of = dict(zip(ids, (k for k, _ in memories), strict=True))
    results: dict[str, dict[str, float]] = {}
    for mode in ("full-text", "hybrid"):
        p5: list[float] = []
        r10: list[float] = []
        for text, relevant in queries:
            vector = embed(text) if mode == "hybrid" else None
            query = Query(store, agent, text, 10**9, vector=vector, model=MODEL if vector else None)
            async with db.read(ALL_STORES) as session:
                ranked = [key_of[c.memory_id] for c in await choose(session, query)]
            p5.append(len(set(ranked[:5]) & relevant) / 5)
            r10.append(len(set(ranked[:10]) & relevant) / len(relevant))
        results[mode] = {"precision@5": statistics.mean(p5), "recall@10": statistics.mean(r10)}
    results["corpus"] = {"memories": len(memories), "queries": len(queries)}
    return results


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        try:
            name = "postgresql" if url.startswith("postgresql") else "sqlite"
            found = await latency(db, args.memories, args.queries)
            print(
                f"{name}: retrieval over {args.memories} memories, budget of 100: "
                f"p50 {found['p50_ms']:.2f} ms, p99 {found['p99_ms']:.2f} ms "
                f"(chosen median {found['chosen_median']:.0f}); baseline read of 100 rows "
                f"p50 {found['baseline_p50_ms']:.2f} ms "
                f"({found['p50_ms'] / found['baseline_p50_ms']:.1f}x)"
            )
            for mode, figures in (await quality(db)).items():
                print(f"{name}: {mode}: " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()))
        finally:
            await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
