"""Connections to what a store defines go only to the addresses the egress guard checked.

A rebinding resolver answers the first lookup with an allowed address and every later one with
another (``tests/rebinding.py``): HTTP tools, MCP sessions and store providers must connect to
the first answer, ask DNS once, and never reach a decoy. All on loopback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopwright.db.repos import providers
from loopwright.db.row_security import ALL_STORES
from loopwright.egress import EgressDenied, EgressGuard, GuardedTransport
from loopwright.runtime.models import ModelResolver
from loopwright.tools.http_tool import HttpToolDef, call_http_tool, http_tool_client
from loopwright.tools.mcp import McpEndpoint, McpError, McpPool
from tests.conftest import Live, Store
from tests.llm.fakes import FakeLLM, Reply, openai_app
from tests.llm.helpers import Clock, Deltas, ask
from tests.mcp_servers import PATHS, Transport, demo_server
from tests.rebinding import CHECKED, HOST, REBOUND, Stage, certificates, rebinding_stage


def echo_app() -> Starlette:
    async def echo(request: Request) -> Response:
        return JSONResponse(
            {
                "host": request.headers.get("host"),
                "path": request.url.path,
                "cookie": request.headers.get("cookie"),
                "server": request.scope["server"][0],
            }
        )

    async def set_cookie(request: Request) -> Response:
        response = JSONResponse({"set": True})
        response.set_cookie("session", "store-a-secret")
        return response

    return Starlette(routes=[Route("/set-cookie", set_cookie), Route("/{rest:path}", echo)])


@pytest.fixture
async def stage() -> AsyncIterator[Stage]:
    async with rebinding_stage(echo_app()) as created:
        yield created


def guard_of(stage: Stage, **options: Any) -> EgressGuard:
    """The operator allows only the first answer's address."""
    return EgressGuard([f"{CHECKED}/32"], resolver=stage.dns, **options)


def tool(url: str) -> HttpToolDef:
    return HttpToolDef("hook", "A hook.", url, "GET", {"type": "object"})


# -- HTTP tools -----------------------------------------------------------------------------------


async def test_an_http_tool_connects_to_the_address_the_guard_checked(stage: Stage) -> None:
    guard = guard_of(stage)
    client = http_tool_client(guard)
    try:
        ok, result = await call_http_tool(
            tool(f"http://{HOST}:{stage.port}/hook"),
            {},
            client=client,
            egress=guard,
            idempotency_key="k1",
            timeout_s=10,
        )
    finally:
        await client.aclose()
    assert ok is True, result
    assert result["body"]["server"] == CHECKED
    assert result["body"]["host"] == f"{HOST}:{stage.port}"  # the name, not the address
    assert stage.dns.asked == [HOST]  # the guard's check and the connection: one lookup
    assert stage.decoy_hits == 0


async def test_a_connection_after_the_lookup_expires_is_judged_again(stage: Stage) -> None:
    """The second lookup answers with an address the operator does not allow: refused at
    connect time, by the transport itself, and nothing reaches it."""
    clock = Clock()
    guard = guard_of(stage, clock=clock)
    async with httpx2.AsyncClient(transport=GuardedTransport(guard)) as first:
        assert (await first.get(f"http://{HOST}:{stage.port}/a")).json()["server"] == CHECKED
    clock.now += 31
    async with httpx2.AsyncClient(transport=GuardedTransport(guard)) as second:
        with pytest.raises(EgressDenied) as caught:
            await second.get(f"http://{HOST}:{stage.port}/b")
    assert caught.value.details == {"host": HOST, "addresses": [REBOUND]}
    assert stage.dns.asked == [HOST, HOST]
    assert stage.decoy_hits == 0


async def test_the_http_tool_client_keeps_no_cookies_between_calls(stage: Stage) -> None:
    """Runs of every store share the client: one server's cookie must not travel with
    another call (here to the same origin, where a cookie jar would send it)."""
    guard = guard_of(stage)
    client = http_tool_client(guard)
    base = f"http://{HOST}:{stage.port}"
    try:
        ok, _ = await call_http_tool(
            tool(f"{base}/set-cookie"),
            {},
            client=client,
            egress=guard,
            idempotency_key="a",
            timeout_s=10,
        )
        assert ok
        ok, result = await call_http_tool(
            tool(f"{base}/echo"), {}, client=client, egress=guard, idempotency_key="b", timeout_s=10
        )
    finally:
        await client.aclose()
    assert ok and result["body"]["cookie"] is None


async def test_tls_is_verified_against_the_host_name(tmp_path: Path) -> None:
    """The socket goes to the checked address; SNI and the certificate check use the name."""
    certs = certificates(tmp_path, HOST)
    options = {"ssl_certfile": str(certs.certfile), "ssl_keyfile": str(certs.keyfile)}
    async with rebinding_stage(echo_app(), **options) as stage:
        guard = guard_of(stage)
        transport = GuardedTransport(guard, verify=certs.client_context())
        async with httpx2.AsyncClient(transport=transport) as client:
            r = await client.get(f"https://{HOST}:{stage.port}/secure")
        assert r.json() == {
            "host": f"{HOST}:{stage.port}",
            "path": "/secure",
            "cookie": None,
            "server": CHECKED,
        }
        assert stage.decoy_hits == 0

    other = certificates(tmp_path, "other.test")  # a valid certificate, for another name
    options = {"ssl_certfile": str(other.certfile), "ssl_keyfile": str(other.keyfile)}
    async with rebinding_stage(echo_app(), **options) as stage:
        transport = GuardedTransport(guard_of(stage), verify=other.client_context())
        async with httpx2.AsyncClient(transport=transport) as client:
            with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(f"https://{HOST}:{stage.port}/secure")


# -- MCP servers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["streamable_http", "sse"])
async def test_an_mcp_session_connects_to_the_address_the_guard_checked(
    transport: Transport,
) -> None:
    demo = demo_server()
    async with rebinding_stage(demo.app(transport)) as stage:
        pool = McpPool(guard_of(stage))
        url = f"http://{HOST}:{stage.port}{PATHS[transport]}"
        try:
            ep = McpEndpoint("mcp_rebind", "demo", transport, url, {})
            assert "note" in [t.name for t in await pool.list_tools(ep)]
            result = await pool.call_tool(
                ep, "note", {"text": "hi"}, idempotency_key="k", timeout_s=10
            )
        finally:
            await pool.close()
        assert result.ok and result.content == {"result": "noted: hi"}
        assert demo.seen.notes[0].headers["host"] == f"{HOST}:{stage.port}"
        assert stage.dns.asked == [HOST]  # every connection of the session: one lookup
        assert stage.decoy_hits == 0


# -- store providers ------------------------------------------------------------------------------


def setting_a_cookie(app: ASGIApp) -> ASGIApp:
    """``app``, with a ``Set-Cookie`` on every response."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"set-cookie", b"sid=a-secret")]
            await send(message)

        await app(scope, receive, send_with_cookie)

    return wrapped


async def test_a_store_provider_connects_to_the_address_the_guard_checked(
    live: Live, store: Store
) -> None:
    fake = FakeLLM()
    fake.push(Reply(text=["pinned"]), Reply(text=["again"]))
    services = live.app.state.services
    async with rebinding_stage(setting_a_cookie(openai_app(fake))) as stage:
        async with services.db.write(ALL_STORES) as session:
            await providers.create(
                session,
                store.id,
                name="mine",
                kind="openai",
                base_url=f"http://{HOST}:{stage.port}/v1",
                api_key_enc=None,
            )
        resolver = ModelResolver(live.settings, services.runtime.secrets, guard_of(stage))
        try:
            client = await resolver.client(services.db, store.id, ["mine:gpt-test"])
            deltas = Deltas()
            await client.complete(ask("hi"), [], {}, deltas)
            await client.complete(ask("again"), [], {}, Deltas())
        finally:
            await resolver.aclose()
        assert deltas.text() == "pinned"
        first, second = fake.requests
        assert first.headers["host"] == f"{HOST}:{stage.port}"
        assert "cookie" not in second.headers  # the store providers' client keeps none
        assert stage.dns.asked == [HOST]  # the resolver's check and the connection
        assert stage.decoy_hits == 0


# -- the server's own clients ---------------------------------------------------------------------


async def test_the_servers_clients_for_store_urls_are_guarded(live: Live, stage: Stage) -> None:
    """The live server allows only 127.0.0.1/32: its HTTP tool client and MCP pool refuse
    127.0.0.2 when they connect, even to a URL nobody checked first."""
    runtime = live.app.state.services.runtime
    with pytest.raises(EgressDenied):
        await runtime.http.get(f"http://{REBOUND}:{stage.port}/x")
    ep = McpEndpoint("mcp_decoy", "decoy", "streamable_http", f"http://{REBOUND}:{stage.port}/mcp")
    with pytest.raises(McpError, match="EgressDenied"):
        await runtime.mcp.list_tools(ep)
    assert stage.decoy_hits == 0
