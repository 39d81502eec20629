"""Completion callbacks: a message with a ``callback_url`` has its run's outcome POSTed there
when the run ends, signed with the store's secret, retried with backoff against a loopback
receiver that fails twice first, each attempt in the delivery log; URLs pass the egress
guard."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import Store
from tests.llm.fakes import serve
from tests.procs import OPERATOR_KEY, ServerProcess

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL


class Receiver:
    """Answers 500 to the first ``failures`` callbacks, then 200; keeps what it got."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.delivered = asyncio.Event()
        self.attempted = asyncio.Event()

    def app(self) -> Starlette:
        async def health(request: Request) -> Response:
            return JSONResponse({"ok": True})

        async def hook(request: Request) -> Response:
            self.got.append((dict(request.headers), await request.body()))
            self.attempted.set()
            if len(self.got) <= self.failures:
                return JSONResponse({"error": "down"}, status_code=500)
            self.delivered.set()
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/health", health), Route("/hook", hook, methods=["POST"])])


@contextlib.asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[str]:
    async with serve(receiver.app()) as base:
        yield f"{base}/hook"


async def test_the_outcome_is_delivered_signed_after_two_failures(store: Store) -> None:
    agent = await store.agent()
    chat = await store.session(agent["id"])
    receiver = Receiver(failures=2)
    async with receiving(receiver) as url:
        r = await store.admin.post(
            f"{store.path}/sessions/{chat['id']}/messages",
            json={"content": "hello there", "callback_url": url},
        )
        assert r.status_code == 202, r.text
        run_id = r.json()["run"]["id"]
        await asyncio.wait_for(receiver.delivered.wait(), 60)

    secret = (await store.admin.get(f"{store.path}/signing-secret")).json()["secret"]
    ids = {headers["webhook-id"] for headers, _ in receiver.got}
    assert len(receiver.got) == 3 and len(ids) == 1  # one message id across the retries
    headers, body = receiver.got[-1]
    outcome: dict[str, Any] = Webhook(secret).verify(body, headers)
    assert outcome["type"] == "run.completed"
    assert outcome["run"]["id"] == run_id and outcome["run"]["status"] == "completed"
    assert outcome["answer"]

    log: list[Any] = []
    for _ in range(100):  # the delivered attempt is recorded just after the receiver answers
        found = await store.admin.get(f"{store.path}/deliveries", params={"run_id": run_id})
        log = found.json()["items"]
        if log and log[0]["status"] == "delivered":
            break
        await asyncio.sleep(0.1)
    assert [d["status"] for d in log] == ["delivered"]
    attempts = log[0]["attempts_log"]
    assert [a["status_code"] for a in attempts] == [500, 500, 200]
    assert log[0]["attempts"] == 3 and log[0]["url"] == url
    assert json.loads(body)["run"]["trigger"] == "api"


async def test_callback_urls_pass_the_egress_guard(store: Store) -> None:
    agent = await store.agent()
    chat = await store.session(agent["id"])
    for url in ("http://10.0.0.1/hook", "http://169.254.169.254/latest", "ftp://example.com/x"):
        r = await store.admin.post(
            f"{store.path}/sessions/{chat['id']}/messages",
            json={"content": "hi", "callback_url": url},
        )
        assert r.status_code == 422, (url, r.text)
    assert (await store.admin.get(f"{store.path}/deliveries")).json()["items"] == []


async def test_a_callback_outlives_a_killed_server(tmp_path: Path) -> None:
    """The delivery is a row: a server SIGKILLed between attempts sends it after its restart."""
    receiver = Receiver(failures=1_000)
    server = ServerProcess(
        tmp_path,
        {"LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32", "LOOPWRIGHT_CALLBACK_BACKOFF_S": "1"},
    )
    await server.start()
    async with receiving(receiver) as url:
        tenant = await _tenant(server.base_url)
        try:
            run_id = await _send_with_callback(tenant, url)
            await asyncio.wait_for(receiver.attempted.wait(), 60)  # refused by the receiver
            await server.kill()
            receiver.failures = 0
            await server.start()
            tenant = tenant.on(server.base_url)
            # the attempt the kill interrupted is taken again once its lease ends
            await asyncio.wait_for(receiver.delivered.wait(), 120)
            log: list[Any] = []
            for _ in range(100):
                found = await tenant.get("/deliveries", params={"run_id": run_id})
                log = found.json()["items"]
                if log and log[0]["status"] == "delivered":
                    break
                await asyncio.sleep(0.1)
            assert log[0]["status"] == "delivered"
            assert log[0]["attempts_log"][-1]["status_code"] == 200
            assert len(receiver.got) >= 2  # refused before the kill, delivered after it
            assert len({h["webhook-id"] for h, _ in receiver.got}) == 1
        finally:
            await tenant.aclose()
            await server.stop()


async def test_a_run_ending_and_a_retry_falling_due_wake_the_sender(tmp_path: Path) -> None:
    """With the poll an hour apart, the callback still goes at once when the run ends (its
    final event, which says ``callback``, wakes the sender), and its retry when the backoff
    has passed. A run without a callback says nothing of one."""
    receiver = Receiver(failures=1)
    server = ServerProcess(
        tmp_path,
        {
            "LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32",
            "LOOPWRIGHT_CALLBACK_POLL_S": "3600",
            "LOOPWRIGHT_CALLBACK_BACKOFF_S": "0.2",
        },
    )
    await server.start()
    async with receiving(receiver) as url:
        tenant = await _tenant(server.base_url)
        try:
            run_id = await _send_with_callback(tenant, url)
            await asyncio.wait_for(receiver.delivered.wait(), 30)
            assert len(receiver.got) == 2  # refused once, then delivered
            chat = (await tenant.post("/sessions", json={"agent_id": tenant.agent_id})).json()
            sent = {"content": "hello", "wait": True}
            r = await tenant.post(f"/sessions/{chat['id']}/messages", json=sent)
            plain_run_id = r.json()["run"]["id"]
            for run, expected in ((run_id, {"callback": True}), (plain_run_id, {})):
                r = await tenant.get("/events", params={"run_id": run, "types": "run.completed"})
                (final,) = r.json()["items"]
                assert {k: v for k, v in final["payload"].items() if k == "callback"} == expected
        finally:
            await tenant.aclose()
            await server.stop()


class _Tenant(httpx.AsyncClient):
    agent_id: str = ""

    def on(self, base_url: str) -> _Tenant:
        moved = _Tenant(base_url=base_url + self.base_url.path, headers=self.headers, timeout=30)
        moved.agent_id = self.agent_id
        return moved


async def _send_with_callback(tenant: _Tenant, url: str) -> str:
    """A message in a new session whose outcome goes to ``url``; the run's id."""
    chat = (await tenant.post("/sessions", json={"agent_id": tenant.agent_id})).json()
    r = await tenant.post(
        f"/sessions/{chat['id']}/messages", json={"content": "hello", "callback_url": url}
    )
    assert r.status_code == 202, r.text
    return str(r.json()["run"]["id"])


async def _tenant(base_url: str) -> _Tenant:
    store = f"st-cb-{uuid.uuid4().hex[:8]}"
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with httpx.AsyncClient(base_url=base_url, headers=operator) as op:
        assert (await op.post("/v1/stores", json={"id": store})).status_code == 201
        key = (await op.post(f"/v1/stores/{store}/keys", json={"role": "admin"})).json()["key"]
    client = _Tenant(
        base_url=f"{base_url}/v1/stores/{store}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    client.agent_id = (await client.post("/agents", json={"name": "a"})).json()["id"]
    return client
