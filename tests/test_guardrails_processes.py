"""The limits hold across server processes on one database: two processes take messages for
one store at once, and together they admit exactly the store's runs per minute and spend no
more than its daily token budget."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.procs import OPERATOR_KEY, ServerProcess
from tests.scripted import GatedLLM
from tests.test_guardrails import overspend_attempt


@pytest.fixture
async def two_servers(tmp_path: Path, own_pg_url: str) -> AsyncIterator[list[ServerProcess]]:
    env = {"LOOPWRIGHT_DATABASE_URL": own_pg_url, "LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32"}
    servers = [
        ServerProcess(tmp_path, {**env, "LOOPWRIGHT_EXECUTOR_ID": name})
        for name in ("first", "second")
    ]
    for server in servers:
        await server.start()
    yield servers
    for server in servers:
        await server.stop()


async def test_runs_per_min_and_the_budget_hold_across_two_processes(
    two_servers: list[ServerProcess], fake: tuple[GatedLLM, str]
) -> None:
    store = f"st-{uuid.uuid4().hex[:10]}"
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    clients = [
        httpx.AsyncClient(base_url=f"{s.base_url}/v1/stores/{store}", headers=operator, timeout=60)
        for s in two_servers
    ]
    first, second = clients
    try:
        async with httpx.AsyncClient(base_url=two_servers[0].base_url, headers=operator) as op:
            assert (await op.post("/v1/stores", json={"id": store})).status_code == 201
        agent = (await first.post("/agents", json={"name": "a"})).json()
        chats = [
            (await first.post("/sessions", json={"agent_id": agent["id"]})).json()["id"]
            for _ in range(14)
        ]
        if time.time() % 60 > 40:  # keep the sends within one UTC minute
            await asyncio.sleep(60 - time.time() % 60 + 0.5)
        k = 5
        r = await first.patch("/settings", json={"runs_per_min": k, "tokens_per_min": None})
        assert r.status_code == 200, r.text
        answers = await asyncio.gather(
            *(
                clients[i % 2].post(f"/sessions/{chat}/messages", json={"content": "hi"})
                for i, chat in enumerate(chats)
            )
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [202] * k + [429] * (len(chats) - k), statuses

        budget = 3_500
        r = await second.patch(
            "/settings", json={"runs_per_min": None, "daily_token_budget": budget}
        )
        assert r.status_code == 200, r.text
        llm, model_url = fake
        provider = {"name": "fake", "kind": "openai", "base_url": f"{model_url}/v1"}
        assert (await first.post("/providers", json={**provider, "api_key": "k"})).is_success
        on_fake = (await first.post("/agents", json={"name": "f", "model": "fake:m"})).json()
        spent = await overspend_attempt(llm, clients, "", on_fake["id"])
        used = (await second.get("/limits")).json()["day"]["tokens"]
        assert used == {"used": spent, "limit": budget}
    finally:
        for client in clients:
            await client.aclose()
