"""Choosing the long-term memories a run is given: candidates by full-text rank (and by
embedding similarity when the store has an embedding model), plus the agent's standing
preferences and instructions; each scored by relevance weighted by importance and recency,
taken best first while they fit the agent's token budget.

score = relevance * (0.5 + 0.5*importance) * (0.5 + 0.5*recency), where relevance is the
full-text rank over the best candidate's (hybrid: the mean of that and the cosine similarity;
a standing preference or instruction that shares no word gets ``STANDING``), and recency halves
every ``HALF_LIFE_DAYS`` since the memory was last used (or written).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.repos import memories
from loopwright.db.tables.base import utcnow

CANDIDATES = 200
STANDING_CANDIDATES = 50
STANDING = 0.2
HALF_LIFE_DAYS = 30.0
HEADER = (
    "Long-term memories of this agent (most relevant first); use them where they apply, "
    "and prefer the conversation where it says otherwise:"
)


@dataclass(frozen=True, slots=True)
class Chosen:
    """A memory given to a run, with why: what is recorded on the run's first step."""

    memory_id: str
    content: str
    type: str
    score: float
    relevance: float
    importance: float
    recency: float
    tokens: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chosen:
        return cls(**data)


def tokens_of(text: str) -> int:
    """A rough count (four characters a token), the same for every provider."""
    return len(text) // 4 + 1


def recency(row: Any, now: datetime) -> float:
    """Of a memory row (``memories.SCORED``)."""
    last = max(t for t in (row.last_accessed_at, row.updated_at, row.created_at) if t is not None)
    if last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    days = max(0.0, (now - last).total_seconds() / 86400)
    return float(0.5 ** (days / HALF_LIFE_DAYS))


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


@dataclass(frozen=True, slots=True)
class Query:
    store_id: str
    agent_id: str
    text: str
    budget_tokens: int
    vector: Sequence[float] | None = None  # the message's embedding (hybrid)
    model: str | None = None  # the embedding model of ``vector``


async def relevances(session: AsyncSession, query: Query) -> dict[str, float]:
    """Relevance in [0, 1] of each candidate memory (by id)."""
    found = await memories.ranked(
        session, query.store_id, query.agent_id, query.text, limit=CANDIDATES
    )
    best = max((rank for _, rank in found), default=0.0)
    text_rel = {mid: (rank / best if best > 0 else 1.0) for mid, rank in found}
    if query.vector is None or query.model is None:
        return text_rel
    vectors = await memories.with_embeddings(session, query.store_id, query.agent_id, query.model)
    similar = sorted(
        ((mid, max(0.0, cosine(query.vector, v))) for mid, v in vectors),
        key=lambda pair: pair[1],
        reverse=True,
    )[:CANDIDATES]
    sims = dict(similar)
    return {mid: (text_rel.get(mid, 0.0) + sims.get(mid, 0.0)) / 2 for mid in {*text_rel, *sims}}


async def choose(
    session: AsyncSession, query: Query, now: datetime | None = None, *, standing: bool = True
) -> list[Chosen]:
    """The memories for a message, best first, within ``budget_tokens`` (``standing``: with
    the agent's preferences and instructions that share no word with it)."""
    if query.budget_tokens <= 0:
        return []
    now = now or utcnow()
    relevance = await relevances(session, query)
    standing_rows = (
        await memories.standing(session, query.store_id, query.agent_id, limit=STANDING_CANDIDATES)
        if standing
        else []
    )
    for row in standing_rows:
        relevance.setdefault(row.id, STANDING)
    rows = {r.id: r for r in standing_rows}
    missing = [mid for mid in relevance if mid not in rows]
    rows.update({r.id: r for r in await memories.scored_rows(session, query.store_id, missing)})
    scored: list[Chosen] = []
    for mid, rel in relevance.items():
        found = rows.get(mid)
        if found is None or rel <= 0:
            continue
        rec = recency(found, now)
        score = rel * (0.5 + 0.5 * found.importance) * (0.5 + 0.5 * rec)
        scored.append(
            Chosen(
                memory_id=found.id,
                content=found.content,
                type=found.type,
                score=round(score, 6),
                relevance=round(rel, 6),
                importance=found.importance,
                recency=round(rec, 6),
                tokens=tokens_of(found.content),
            )
        )
    scored.sort(key=lambda c: (c.score, c.memory_id), reverse=True)
    chosen: list[Chosen] = []
    left = query.budget_tokens
    for item in scored:
        if item.tokens <= left:
            chosen.append(item)
            left -= item.tokens
    return chosen


def render(chosen: Sequence[Chosen]) -> str:
    lines = [f"- ({c.type}) {c.content}" for c in chosen]
    return "\n".join([HEADER, *lines])
