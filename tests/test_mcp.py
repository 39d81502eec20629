"""MCP servers: the client pool against real MCP servers on 127.0.0.1 (streamable HTTP and SSE),
and the store's ``/mcp-servers`` routes (CRUD, validation, encrypted headers, health).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import McpServerRow
from loopwright.egress import EgressGuard
from loopwright.tools.mcp import McpEndpoint, McpError, McpPool, McpTool
from tests.conftest import Live, Store
from tests.mcp_servers import DemoServer, Transport, demo_server, down_url, port_of, serve_mcp

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL

TRANSPORTS: list[Transport] = ["streamable_http", "sse"]
TOKEN = "Bearer mcp-s3cret-token"
LOOPBACK = EgressGuard(["127.0.0.1/32"])
"""The test servers listen on 127.0.0.1 (the live server's allow list too)."""


@pytest.fixture
async def pool() -> AsyncIterator[McpPool]:
    created = McpPool(LOOPBACK)
    yield created
    await created.close()


@pytest.fixture
def demo() -> DemoServer:
    return demo_server()


def endpoint(url: str, transport: Transport, **headers: str) -> McpEndpoint:
    return McpEndpoint("mcp_test", "demo", transport, url, headers)


async def note(pool: McpPool, ep: McpEndpoint, text: str, key: str = "k") -> Any:
    result = await pool.call_tool(ep, "note", {"text": text}, idempotency_key=key, timeout_s=10)
    assert result.ok, result
    return result.content


# -- the pool -----------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_list_tools_and_call(pool: McpPool, demo: DemoServer, transport: Transport) -> None:
    async with serve_mcp(demo, transport) as url:
        ep = endpoint(url, transport)
        tools = {t.name: t for t in await pool.list_tools(ep)}
        assert sorted(tools) == ["add", "fail", "hang", "note"]
        add = tools["add"]
        assert isinstance(add, McpTool)
        assert add.qualified_name == "demo.add"
        assert add.description == "Add two integers."
        assert add.read_only is True and tools["note"].read_only is False
        assert add.parameters["type"] == "object"
        assert sorted(add.parameters["properties"]) == ["a", "b"]
        result = await pool.call_tool(ep, "add", {"a": 2, "b": 3}, idempotency_key="k", timeout_s=5)
        assert result.ok is True
        assert result.content == {"result": 5}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tool_error_is_a_failed_result(
    pool: McpPool, demo: DemoServer, transport: Transport
) -> None:
    async with serve_mcp(demo, transport) as url:
        ep = endpoint(url, transport)
        result = await pool.call_tool(
            ep, "fail", {"message": "disk is full"}, idempotency_key="k", timeout_s=5
        )
        assert result.ok is False
        assert "disk is full" in result.content
        result = await pool.call_tool(ep, "fail", {}, idempotency_key="k", timeout_s=5)
        assert result.ok is False and "message" in result.content  # bad arguments
        assert (await note(pool, ep, "still fine")) == {"result": "noted: still fine"}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_idempotency_key_and_headers_reach_the_server(
    pool: McpPool, demo: DemoServer, transport: Transport
) -> None:
    async with serve_mcp(demo, transport) as url:
        ep = endpoint(url, transport, Authorization=TOKEN)
        await note(pool, ep, "first", key="run_1:call_1")
        (seen,) = demo.seen.notes
        assert seen.idempotency_key == "run_1:call_1"
        assert seen.meta_key == "run_1:call_1"
        assert seen.headers["authorization"] == TOKEN
        texts = [f"n{i}" for i in range(6)]
        await asyncio.gather(*(note(pool, ep, t, key=f"key-{t}") for t in texts))
        by_text = {n.text: n for n in demo.seen.notes[1:]}
        assert sorted(by_text) == texts
        for text, seen in by_text.items():  # concurrent calls each carry their own key
            assert seen.idempotency_key == f"key-{text}" and seen.meta_key == f"key-{text}"
            assert seen.session_id == demo.seen.notes[0].session_id  # one live session


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_server_restart_reconnects(
    pool: McpPool, demo: DemoServer, transport: Transport
) -> None:
    async with serve_mcp(demo, transport) as url:
        ep = endpoint(url, transport)
        await note(pool, ep, "before")
    async with serve_mcp(demo, transport, port=port_of(url)) as again:
        assert again == url
        assert (await note(pool, ep, "after")) == {"result": "noted: after"}
        assert (await note(pool, ep, "again")) == {"result": "noted: again"}
    before, after, again_ = demo.seen.notes
    assert after.session_id != before.session_id
    assert again_.session_id == after.session_id


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_hanging_tool_times_out_and_the_session_stays_usable(
    pool: McpPool, demo: DemoServer, transport: Transport
) -> None:
    async with serve_mcp(demo, transport) as url:
        ep = endpoint(url, transport)
        await note(pool, ep, "before")
        started = time.perf_counter()
        call = pool.call_tool(ep, "hang", {}, idempotency_key="k", timeout_s=0.3)
        with pytest.raises(McpError) as caught:
            await asyncio.wait_for(call, 10)  # a TimeoutError here means no per-call timeout
        assert 0.3 <= time.perf_counter() - started < 5
        assert caught.value.code == "mcp_error" and caught.value.status == 502
        assert "demo.hang" in caught.value.message and "0.3 s" in caught.value.message
        assert demo.seen.hang_started.is_set()
        await asyncio.wait_for(demo.seen.hang_cancelled.wait(), 5)  # the server was told
        await note(pool, ep, "after")
        before, after = demo.seen.notes
        assert after.session_id == before.session_id


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_server_that_is_down_fails_fast(transport: Transport) -> None:
    pool = McpPool(LOOPBACK, connect_timeout_s=30)
    try:
        ep = endpoint(down_url(transport), transport)
        started = time.perf_counter()
        with pytest.raises(McpError) as caught:
            await pool.call_tool(ep, "add", {"a": 1, "b": 2}, idempotency_key="k", timeout_s=30)
        assert time.perf_counter() - started < 3
        assert "cannot connect to MCP server 'demo'" in caught.value.message
        assert "ConnectError" in caught.value.message
        with pytest.raises(McpError):
            await pool.list_tools(ep)
        health = await pool.health(ep)
        assert health["ok"] is False and health["tools"] == []
        assert "cannot connect" in health["error"]
    finally:
        await pool.close()


async def test_server_going_down_after_use_fails_fast(pool: McpPool, demo: DemoServer) -> None:
    async with serve_mcp(demo, "streamable_http") as url:
        ep = endpoint(url, "streamable_http")
        await note(pool, ep, "up")
    started = time.perf_counter()
    with pytest.raises(McpError, match="cannot connect"):
        await note(pool, ep, "down")
    assert time.perf_counter() - started < 3


async def test_list_tools_is_cached_until_refreshed(demo: DemoServer) -> None:
    def extra() -> str:
        """Added later."""
        return "x"

    cached, uncached = McpPool(LOOPBACK, tools_ttl_s=60), McpPool(LOOPBACK, tools_ttl_s=0)
    try:
        async with serve_mcp(demo, "streamable_http") as url:
            ep = endpoint(url, "streamable_http")
            assert len(await cached.list_tools(ep)) == len(await uncached.list_tools(ep)) == 4
            demo.server.add_tool(extra)
            assert len(await cached.list_tools(ep)) == 4
            assert len(await uncached.list_tools(ep)) == 5
            assert len(await cached.list_tools(ep, fresh=True)) == 5
            renamed = McpEndpoint(ep.server_id, "renamed", ep.transport, ep.url, ep.headers)
            assert {t.server for t in await cached.list_tools(renamed)} == {"renamed"}
    finally:
        await cached.close()
        await uncached.close()


async def test_edited_endpoint_reconnects_with_new_headers(pool: McpPool, demo: DemoServer) -> None:
    async with serve_mcp(demo, "streamable_http") as url:
        await note(pool, endpoint(url, "streamable_http", Authorization="Bearer one"), "a")
        await note(pool, endpoint(url, "streamable_http", Authorization="Bearer two"), "b")
        first, second = demo.seen.notes
        assert first.headers["authorization"] == "Bearer one"
        assert second.headers["authorization"] == "Bearer two"
        assert second.session_id != first.session_id


async def test_health_lists_tools_with_latency(pool: McpPool, demo: DemoServer) -> None:
    async with serve_mcp(demo, "sse") as url:
        health = await pool.health(endpoint(url, "sse"))
    assert health["ok"] is True
    assert sorted(health["tools"]) == ["add", "fail", "hang", "note"]
    assert health["latency_ms"] > 0
    assert "error" not in health


# -- the REST routes ----------------------------------------------------------------------------


def body(url: str, **fields: Any) -> dict[str, Any]:
    return {"name": "demo", "transport": "streamable_http", "url": url, **fields}


async def test_crud(store: Store) -> None:
    path = f"{store.path}/mcp-servers"
    created = await store.admin.post(path, json=body("http://127.0.0.1:9/mcp"))
    assert created.status_code == 201, created.text
    server = created.json()
    assert server["id"].startswith("mcp_")
    assert server["name"] == "demo" and server["transport"] == "streamable_http"
    assert server["url"] == "http://127.0.0.1:9/mcp"
    assert server["header_names"] == [] and server["enabled"] is True
    one = f"{path}/{server['id']}"
    assert (await store.admin.get(one)).json() == server
    listed = (await store.admin.get(path)).json()
    assert listed == {"items": [server], "next_cursor": None}

    changes = {"name": "renamed", "transport": "sse", "url": "http://127.0.0.1:9/sse"}
    r = await store.admin.patch(one, json={**changes, "enabled": False})
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in changes} == changes and r.json()["enabled"] is False
    assert (await store.admin.get(one)).json() == r.json()
    r = await store.admin.patch(one, json={"name": None})
    assert r.status_code == 422

    assert (await store.admin.delete(one)).status_code == 204
    r = await store.admin.get(one)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert (await store.admin.delete(one)).status_code == 404
    assert (await store.admin.get(path)).json()["items"] == []


async def test_duplicate_name_is_409(store: Store) -> None:
    path = f"{store.path}/mcp-servers"
    assert (await store.admin.post(path, json=body("http://127.0.0.1:9/a"))).status_code == 201
    r = await store.admin.post(path, json=body("http://127.0.0.1:9/b"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    other = await store.admin.post(path, json=body("http://127.0.0.1:9/b", name="other"))
    r = await store.admin.patch(f"{path}/{other.json()['id']}", json={"name": "demo"})
    assert r.status_code == 409


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"transport": "websocket"}, "validation_error"),
        ({"url": "ftp://127.0.0.1/mcp"}, "validation_error"),
        ({"url": "not a url"}, "validation_error"),
        ({"name": "has.dot"}, "validation_error"),
        ({"name": "Upper"}, "validation_error"),
        ({"headers": {"Mcp-Session-Id": "x"}}, "validation_error"),
        ({"headers": {"Bad Name": "x"}}, "validation_error"),
        ({"headers": {"X-Split": "a\r\nInjected: b"}}, "validation_error"),
        ({"url": "http://10.0.0.1/mcp"}, "egress_denied"),
    ],
)
async def test_invalid_bodies_are_422(store: Store, fields: dict[str, Any], code: str) -> None:
    path = f"{store.path}/mcp-servers"
    r = await store.admin.post(path, json={**body("http://127.0.0.1:9/mcp"), **fields})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code
    good = await store.admin.post(path, json=body("http://127.0.0.1:9/mcp"))
    assert good.status_code == 201
    if "name" not in fields:  # the same mistake in an update is refused too
        r = await store.admin.patch(f"{path}/{good.json()['id']}", json=fields)
        assert r.status_code == 422 and r.json()["error"]["code"] == code


async def test_stdio_is_operator_only(store: Store) -> None:
    r = await store.admin.post(
        f"{store.path}/mcp-servers", json=body("http://127.0.0.1:9/mcp", transport="stdio")
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"] == {"field": "transport"}
    assert "operator" in r.json()["error"]["message"]


async def test_headers_are_encrypted_and_never_returned(live: Live, store: Store) -> None:
    path = f"{store.path}/mcp-servers"
    headers = {"Authorization": TOKEN, "X-Api-Key": "key-0123456789"}
    r = await store.admin.post(path, json=body("http://127.0.0.1:9/mcp", headers=headers))
    assert r.status_code == 201
    server = r.json()
    for response in (
        r,
        await store.admin.get(f"{path}/{server['id']}"),
        await store.admin.get(path),
    ):
        assert TOKEN not in response.text and "key-0123456789" not in response.text
    assert server["header_names"] == ["Authorization", "X-Api-Key"]
    assert "headers" not in server
    services = live.app.state.services
    async with services.db.read(ALL_STORES) as session:
        row = await session.scalar(select(McpServerRow).where(McpServerRow.id == server["id"]))
    assert row is not None and row.headers_enc is not None
    assert "s3cret" not in row.headers_enc and "Authorization" not in row.headers_enc
    assert json.loads(services.runtime.secrets.decrypt(row.headers_enc)) == headers

    r = await store.admin.patch(f"{path}/{server['id']}", json={"headers": {"X-New": "v"}})
    assert r.json()["header_names"] == ["X-New"]
    r = await store.admin.patch(f"{path}/{server['id']}", json={"headers": None})
    assert r.json()["header_names"] == []


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_health_of_a_live_server(
    store: Store, demo: DemoServer, transport: Transport
) -> None:
    async with serve_mcp(demo, transport) as url:
        r = await store.admin.post(
            f"{store.path}/mcp-servers",
            json=body(url, transport=transport, headers={"Authorization": TOKEN}),
        )
        assert r.status_code == 201, r.text
        health = await store.admin.post(f"{store.path}/mcp-servers/{r.json()['id']}/health")
        assert health.status_code == 200, health.text
        result = health.json()
        assert result["ok"] is True
        assert sorted(result["tools"]) == ["add", "fail", "hang", "note"]
        assert result["latency_ms"] > 0
        assert "error" not in result


async def test_health_of_a_down_server_is_not_ok(store: Store) -> None:
    r = await store.admin.post(f"{store.path}/mcp-servers", json=body(down_url()))
    health = await store.admin.post(f"{store.path}/mcp-servers/{r.json()['id']}/health")
    assert health.status_code == 200
    result = health.json()
    assert result["ok"] is False and result["tools"] == []
    assert "cannot connect" in result["error"]
    assert isinstance(result["latency_ms"], float)


async def test_roles_and_other_stores(live: Live, store: Store) -> None:
    path = f"{store.path}/mcp-servers"
    server = (await store.admin.post(path, json=body("http://127.0.0.1:9/mcp"))).json()
    one = f"{path}/{server['id']}"
    async with live.client(await store.key("readonly")) as reader:
        assert (await reader.get(one)).status_code == 200
        assert (await reader.get(path)).status_code == 200
        assert (await reader.post(path, json=body("http://127.0.0.1:9/x"))).status_code == 403
        assert (await reader.patch(one, json={"enabled": False})).status_code == 403
        assert (await reader.delete(one)).status_code == 403
        assert (await reader.post(f"{one}/health")).status_code == 403
    other = await live.new_store()
    try:  # another store's admin, addressing the server through its own store: not found
        theirs = f"{other.path}/mcp-servers/{server['id']}"
        assert (await other.admin.get(theirs)).status_code == 404
        assert (await other.admin.patch(theirs, json={"enabled": False})).status_code == 404
        assert (await other.admin.post(f"{theirs}/health")).status_code == 404
        assert (await other.admin.delete(theirs)).status_code == 404
        assert (await other.admin.get(one)).status_code == 404  # and not through ours either
    finally:
        await other.admin.aclose()
    assert (await store.admin.get(one)).json() == server
