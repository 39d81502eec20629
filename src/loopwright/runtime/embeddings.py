"""Embeddings for hybrid memory retrieval, when the store names an embedding model
(``PUT /memory-settings``: ``provider:model`` of an OpenAI-compatible store provider, whose
``/embeddings`` endpoint is called through the egress-guarded client).

Vectors are stored on the memories (JSON, with the model that made them) and scored in the
process (``runtime/memory.cosine``). A memory without a vector of the store's model gets one
when a retrieval first needs it (at most ``BACKFILL`` per retrieval, written in a transaction
of their own); an endpoint that fails leaves retrieval to full-text alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx2
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.repos import memories, tenancy
from loopwright.llm import parse_model_name
from loopwright.runtime.memory import Query
from loopwright.runtime.services import RunServices

logger = logging.getLogger("loopwright.runtime")
BACKFILL = 256
BATCH = 64
TIMEOUT_S = 10.0


async def model_of(session: AsyncSession, store_id: str) -> str | None:
    store = await tenancy.get_store(session, store_id)
    found = (store.settings or {}).get("memory", {}).get("embedding_model")
    return str(found) if found else None


async def embed(
    rt: RunServices, store_id: str, model: str, texts: Sequence[str]
) -> list[list[float]]:
    """The vectors of ``texts`` from the store's ``provider:model``."""
    provider, name = parse_model_name(model)
    spec = await rt.models.spec(rt.db, store_id, provider)
    base = (spec.base_url or "https://api.openai.com/v1").rstrip("/")
    headers = {"Authorization": f"Bearer {spec.api_key}"} if spec.api_key else {}
    vectors: list[list[float]] = []
    for start in range(0, len(texts), BATCH):
        batch = list(texts[start : start + BATCH])
        response = await rt.http.post(
            f"{base}/embeddings",
            json={"model": name, "input": batch},
            headers=headers,
            timeout=TIMEOUT_S,
        )
        response.raise_for_status()
        data: list[dict[str, Any]] = sorted(response.json()["data"], key=lambda d: d["index"])
        vectors += [[float(x) for x in d["embedding"]] for d in data]
    return vectors


async def query_for(
    rt: RunServices, session: AsyncSession, store_id: str, agent_id: str, text: str, budget: int
) -> Query:
    """What to retrieve with: the message's vector too when the store has an embedding model
    (and the agent's memories have theirs)."""
    plain = Query(store_id, agent_id, text, budget)
    model = await model_of(session, store_id)
    if model is None or not text.strip():
        return plain
    try:
        await backfill(rt, store_id, agent_id, model)
        [vector] = await embed(rt, store_id, model, [text])
    except (httpx2.HTTPError, KeyError, ValueError, TypeError) as exc:
        logger.warning("embeddings of store %s failed, full-text only: %s", store_id, exc)
        return plain
    return Query(store_id, agent_id, text, budget, vector=vector, model=model)


async def backfill(rt: RunServices, store_id: str, agent_id: str, model: str) -> None:
    async with rt.db.read(store_id) as session:
        rows = await memories.missing_embeddings(session, store_id, agent_id, model, limit=BACKFILL)
        if not rows:
            return
        vectors = await embed(rt, store_id, model, [r.content for r in rows])
    async with rt.db.write(store_id) as session:
        for row, vector in zip(rows, vectors, strict=True):
            await memories.set_embedding(session, store_id, row.id, model, vector)
