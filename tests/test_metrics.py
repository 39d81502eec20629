"""``/metrics`` after real runs: the values, not only the names.

In this process (the suite's live server) runs on the offline model and a fake OpenAI
provider; then a server of two processes (``serve --processes 2``), where every scrape, whichever
process answers it, counts the runs of both.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Live
from tests.llm.fakes import Fail, Reply
from tests.procs import OPERATOR_KEY, ServerProcess
from tests.scripted import GatedLLM, Hold
from tests.test_runs_offline import ALL_BUILTIN, send

SSE = {"Accept": "text/event-stream"}


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(
        v
        for n, found, v in samples(text)
        if n == name and all(found.get(k) == want for k, want in labels.items())
    )


async def scrape(client: httpx.AsyncClient, **headers: str) -> str:
    r = await client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


async def test_metrics_count_runs_tokens_tools_and_streams(live: Live) -> None:
    store = await live.new_store()
    agent = await store.agent(tools=ALL_BUILTIN)
    chat = await store.session(agent["id"])
    runs = [
        (await send(store, chat["id"], "Create a task called Buy milk in project Home"))["run"],
        (await send(store, chat["id"], "hello there"))["run"],
    ]
    assert [r["status"] for r in runs] == ["completed", "completed"]
    text = await scrape(live.http)
    s, a = store.id, agent["id"]

    finished = "loopwright_runs_finished_total"
    assert value(text, finished, store=s, agent=a, status="completed") == 2
    assert value(text, "loopwright_run_duration_seconds_count", store=s, agent=a) == 2
    assert value(text, "loopwright_run_queued_seconds_count", store=s) == 2
    input_tokens = sum(r["usage"]["input_tokens"] for r in runs)
    output_tokens = sum(r["usage"]["output_tokens"] for r in runs)
    tokens = "loopwright_tokens_total"
    assert value(text, tokens, store=s, model="offline:default", direction="input") == input_tokens
    assert (
        value(text, tokens, store=s, model="offline:default", direction="output") == output_tokens
    )
    calls = "loopwright_tool_calls_total"
    assert value(text, calls, store=s, tool="create_task", outcome="ok") == 1
    assert value(text, "loopwright_tool_call_duration_seconds_count", store=s) == 1
    # model requests are per provider and model (no store): at least this store's three
    requests = "loopwright_model_requests_total"
    assert value(text, requests, provider="offline", model="default", outcome="ok") >= 3
    assert value(text, "loopwright_event_append_seconds_count") > 0
    # nothing is queued or running in this store now; no run or session id is a label
    assert value(text, "loopwright_runs", store=s) == 0
    for _, labels, _ in samples(text):
        assert not any(v.startswith(("run_", "ses_")) for v in labels.values()), labels

    async with store.admin.stream("GET", f"{store.path}/events", headers=SSE) as stream:
        async for line in stream.aiter_lines():
            if line.startswith((":", "data:", "event:")):
                break
        during = await scrape(live.http)
    assert value(during, "loopwright_stream_subscribers", kind="sse") >= 1


async def test_metrics_count_model_errors_per_provider(
    live: Live, fake: tuple[GatedLLM, str]
) -> None:
    llm, fake_url = fake
    store = await live.new_store()
    provider = {"name": "acme", "kind": "openai", "base_url": f"{fake_url}/v1", "api_key": "k1"}
    r = await store.admin.post(f"{store.path}/providers", json=provider)
    assert r.status_code == 201, r.text
    agent = await store.agent(model="acme:gpt-metrics")
    chat = await store.session(agent["id"])
    before = await scrape(live.http)
    llm.push(Reply(text=["fine"]))
    assert (await send(store, chat["id"], "hi"))["run"]["status"] == "completed"
    llm.push(Fail(401, message="no"))
    assert (await send(store, chat["id"], "again"))["run"]["status"] == "failed"
    text = await scrape(live.http)

    def grew(name: str, **labels: str) -> float:
        return value(text, name, **labels) - value(before, name, **labels)

    requests = "loopwright_model_requests_total"
    assert grew(requests, provider="acme", model="gpt-metrics", outcome="ok") == 1
    assert grew(requests, provider="acme", model="gpt-metrics", outcome="error") == 1
    errors = "loopwright_model_errors_total"
    assert grew(errors, provider="acme", model="gpt-metrics", reason="refused") == 1
    latency = "loopwright_model_request_duration_seconds_count"
    assert grew(latency, provider="acme", model="gpt-metrics") == 2
    finished = "loopwright_runs_finished_total"
    assert value(text, finished, store=store.id, status="failed") == 1
    # the endpoint answered (a refusal proves it is up): its breaker is closed
    breakers = [labels for n, labels, _ in samples(text) if n == "loopwright_breaker_state"]
    assert breakers and all(value(text, "loopwright_breaker_state", **b) == 0 for b in breakers)


async def test_metrics_token_when_set(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", {"LOOPWRIGHT_METRICS_TOKEN": "scrape-secret-1"})
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            assert (await client.get("/metrics")).status_code == 401
            bad = {"Authorization": "Bearer nope"}
            assert (await client.get("/metrics", headers=bad)).status_code == 401
            await scrape(client, Authorization="Bearer scrape-secret-1")
    finally:
        await server.stop()


async def _run_many(base_url: str, count: int) -> tuple[str, str]:
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with httpx.AsyncClient(base_url=base_url, headers=operator, timeout=60) as op:
        r = await op.post("/v1/stores", json={"id": "multi"})
        assert r.status_code == 201, r.text
        r = await op.post("/v1/stores/multi/agents", json={"name": "a", "model": "offline:default"})
        assert r.status_code == 201, r.text
        agent_id = r.json()["id"]

    async def one(i: int) -> dict[str, Any]:
        # a client (so a connection) of its own: the kernel hands them to both processes
        async with httpx.AsyncClient(base_url=base_url, headers=operator, timeout=60) as c:
            r = await c.post("/v1/stores/multi/sessions", json={"agent_id": agent_id})
            r = await c.post(
                f"/v1/stores/multi/sessions/{r.json()['id']}/messages",
                json={"content": f"hello {i}", "wait": True},
            )
            assert r.status_code == 200, r.text
            return dict(r.json()["run"])

    done = await asyncio.gather(*(one(i) for i in range(count)))
    assert all(r["status"] == "completed" for r in done)
    return "multi", agent_id


async def test_one_scrape_counts_every_process(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    server.extra_args = ["--processes", "2"]
    await server.start()
    try:
        store, agent = await _run_many(server.base_url, 8)
        for _ in range(4):  # new connections: each scrape may reach either process
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                text = await scrape(client)
            finished = "loopwright_runs_finished_total"
            assert value(text, finished, store=store, agent=agent, status="completed") == 8
            assert value(text, "loopwright_run_queued_seconds_count", store=store) == 8
    finally:
        await server.stop()


async def test_metrics_read_running_and_queued_runs_from_the_database(
    live: Live, fake: tuple[GatedLLM, str]
) -> None:
    """A run held in its model call and the session's next message queued behind it."""
    llm, fake_url = fake
    store = await live.new_store()
    provider = {"name": "acme", "kind": "openai", "base_url": f"{fake_url}/v1", "api_key": "k2"}
    assert (await store.admin.post(f"{store.path}/providers", json=provider)).status_code == 201
    agent = await store.agent(model="acme:gpt-held")
    chat = await store.session(agent["id"])
    held = Hold(Reply(text=["first"]))
    llm.push(held, Reply(text=["second"]))
    path = f"{store.path}/sessions/{chat['id']}/messages"
    first = (await store.admin.post(path, json={"content": "one"})).json()["run"]
    await llm.wait_for_requests(1)
    second = (await store.admin.post(path, json={"content": "two"})).json()["run"]
    text = await scrape(live.http)
    assert value(text, "loopwright_runs", store=store.id, status="running") == 1
    assert value(text, "loopwright_runs", store=store.id, status="queued") == 1
    assert value(text, "loopwright_oldest_queued_run_age_seconds", store=store.id) >= 0
    held.gate.set()
    for run in (first, second):
        r = await store.admin.post(f"{store.path}/runs/{run['id']}/wait", params={"timeout_s": 30})
        assert r.json()["status"] == "completed", r.text
    text = await scrape(live.http)
    assert value(text, "loopwright_runs", store=store.id) == 0
    assert value(text, "loopwright_run_queued_seconds_count", store=store.id) == 2
