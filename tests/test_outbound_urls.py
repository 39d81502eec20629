"""Malformed URLs of what a store defines (HTTP tools, MCP servers, provider base URLs) are a 422
over REST, a missing MCP server a 404 whatever its update says, and a malformed URL stored
before validation existed is a clean error when used.

Every URL here fails before any DNS query: the hosts are malformed or IP literals.
"""

from __future__ import annotations

from typing import Any

import pytest

from loopwright.db.repos import http_tools, mcp_servers
from loopwright.db.row_security import ALL_STORES
from tests.conftest import Store

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL

BAD_URLS = {
    "unclosed_bracket": "http://[",
    "bad_ipv6_literal": "http://[::g]/x",
    "label_over_63": f"http://{'a' * 64}.example/x",
    "empty_label": "http://a..b/x",
    "not_idna": "http://\ufffd.example/x",
    "port_over_65535": "http://127.0.0.1:70000/x",
    "port_0": "http://127.0.0.1:0/x",
    "not_http": "ftp://127.0.0.1/x",
}
BAD = pytest.mark.parametrize("url", list(BAD_URLS.values()), ids=list(BAD_URLS))


def tool_body(url: str) -> dict[str, Any]:
    return {
        "name": "lookup",
        "description": "Look an item up.",
        "url": url,
        "method": "GET",
        "parameters": {"type": "object", "properties": {}},
    }


def assert_refused(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    (problem,) = error["details"]
    assert problem["loc"] == ["body", field]
    assert problem["message"]


@BAD
async def test_an_http_tool_with_a_malformed_url_is_422(store: Store, url: str) -> None:
    assert_refused(await store.admin.post(f"{store.path}/tools", json=tool_body(url)), "url")
    r = await store.admin.get(f"{store.path}/tools")
    assert "lookup" not in [t["name"] for t in r.json()["items"]]


@BAD
async def test_an_mcp_server_with_a_malformed_url_is_422(store: Store, url: str) -> None:
    path = f"{store.path}/mcp-servers"
    body = {"name": "demo", "transport": "streamable_http", "url": url}
    assert_refused(await store.admin.post(path, json=body), "url")
    good = await store.admin.post(path, json={**body, "url": "http://127.0.0.1:9/mcp"})
    assert good.status_code == 201, good.text
    one = f"{path}/{good.json()['id']}"
    assert_refused(await store.admin.patch(one, json={"url": url}), "url")
    assert (await store.admin.get(one)).json()["url"] == "http://127.0.0.1:9/mcp"  # unchanged


@BAD
async def test_a_provider_with_a_malformed_base_url_is_422(store: Store, url: str) -> None:
    body = {"name": "mine", "kind": "openai", "base_url": url}
    assert_refused(await store.admin.post(f"{store.path}/providers", json=body), "base_url")
    assert (await store.admin.get(f"{store.path}/providers")).json()["items"] == []


@pytest.mark.parametrize(
    "changes",
    [
        {"url": "http://["},
        {"url": f"http://{'a' * 64}.example/"},
        {"url": "http://10.0.0.1/mcp"},
        {"transport": "stdio"},
    ],
)
async def test_updating_a_missing_mcp_server_is_404(store: Store, changes: dict[str, Any]) -> None:
    r = await store.admin.patch(f"{store.path}/mcp-servers/mcp_missing", json=changes)
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "not_found"


@pytest.mark.in_process  # reads the in-process server's own database
async def test_a_stored_malformed_http_tool_url_fails_cleanly_when_called(store: Store) -> None:
    """A row written before URLs were validated: the call is an error result, not a 500."""
    services = store.live.app.state.services
    async with services.db.write(ALL_STORES) as session:
        await http_tools.create(
            session,
            store.id,
            name="legacy",
            description="Stored before validation.",
            url=f"http://{'a' * 64}.example/x",
            method="GET",
            parameters={"type": "object"},
            headers_enc=None,
            read_only=False,
        )
    r = await store.admin.post(f"{store.path}/tools/legacy/test", json={"arguments": {}})
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is False
    assert r.json()["result"]["error"].startswith("egress refused: the host name label")


@pytest.mark.in_process  # reads the in-process server's own database
async def test_a_stored_malformed_mcp_url_fails_cleanly_when_checked(store: Store) -> None:
    services = store.live.app.state.services
    async with services.db.write(ALL_STORES) as session:
        row = await mcp_servers.create(
            session,
            store.id,
            name="legacy",
            transport="streamable_http",
            url="http://[",
            headers_enc=None,
        )
    r = await store.admin.post(f"{store.path}/mcp-servers/{row.id}/health")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "egress_denied"
    assert "not a valid URL" in r.json()["error"]["message"]
