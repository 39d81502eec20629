"""HTTP tools: defined over REST, stored with encrypted headers, and called against a real
target server on 127.0.0.1 (directly with ``call_http_tool`` and through the test endpoint).

Addresses the egress guard must refuse are decided with an injected resolver; no request goes
anywhere but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from loopwright.egress import EgressGuard
from loopwright.tools.agents import AGENT_TOOLS
from loopwright.tools.builtin import BUILTIN_TOOLS
from loopwright.tools.http_tool import HttpMethod, HttpToolDef, call_http_tool
from tests.conftest import Store
from tests.llm.fakes import serve
from tests.test_egress import FakeDNS

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL

SECRET = "Bearer s3cret-token-value"
API_KEY = "key-0123456789abcdef"
ALL = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@dataclass
class Target:
    """A server that records what reaches it and answers as the path says."""

    release: asyncio.Event
    requests: list[dict[str, Any]] = field(default_factory=list)
    peers: list[int] = field(default_factory=list)  # each request's client port
    base_url: str = ""

    def paths(self) -> list[str]:
        return [r["raw_path"] for r in self.requests]


def target_app(target: Target) -> Starlette:
    async def record(request: Request) -> dict[str, Any]:
        raw = await request.body()
        seen = {
            "method": request.method,
            "raw_path": request.scope["raw_path"].decode(),
            "query": [list(pair) for pair in request.query_params.multi_items()],
            "json": json.loads(raw) if raw else None,
            "idempotency_key": request.headers.get("idempotency-key"),
            "authorization": request.headers.get("authorization"),
            "x_api_key": request.headers.get("x-api-key"),
        }
        target.requests.append(seen)
        target.peers.append(request.client.port if request.client else 0)
        return seen

    async def echo(request: Request) -> Response:
        return JSONResponse(await record(request))

    async def status(request: Request) -> Response:
        await record(request)
        return JSONResponse({"error": "boom"}, status_code=request.path_params["code"])

    async def redirect(request: Request) -> Response:
        await record(request)
        code = int(request.query_params.get("code", "302"))
        return RedirectResponse(request.query_params["to"], status_code=code)

    async def loop(request: Request) -> Response:
        await record(request)
        return RedirectResponse("/loop", status_code=302)

    async def hang(request: Request) -> Response:
        await record(request)
        await target.release.wait()
        return PlainTextResponse("released")

    async def huge(request: Request) -> Response:
        await record(request)
        return PlainTextResponse("x" * 1_000_000)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/echo/{rest:path}", echo, methods=ALL),
            Route("/status/{code:int}", status, methods=ALL),
            Route("/redirect", redirect, methods=ALL),
            Route("/loop", loop, methods=ALL),
            Route("/hang", hang),
            Route("/huge", huge),
        ]
    )


@pytest.fixture(scope="module")
async def targets() -> AsyncIterator[tuple[Target, Target]]:
    """Two target servers (two origins); hung handlers are released at teardown."""
    release = asyncio.Event()
    first, second = Target(release), Target(release)
    async with contextlib.AsyncExitStack() as stack:
        first.base_url = await stack.enter_async_context(serve(target_app(first)))
        second.base_url = await stack.enter_async_context(serve(target_app(second)))
        try:
            yield first, second
        finally:
            release.set()


@pytest.fixture
def target(targets: tuple[Target, Target]) -> Target:
    for t in targets:
        t.requests.clear()
        t.peers.clear()
    return targets[0]


@pytest.fixture
def other(targets: tuple[Target, Target], target: Target) -> Target:
    return targets[1]


@pytest.fixture
async def client() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(trust_env=False) as http:
        yield http


@pytest.fixture
def dns() -> FakeDNS:
    return FakeDNS({"internal.example": ["10.0.0.5"]})


@pytest.fixture
def guard(dns: FakeDNS) -> EgressGuard:
    """The test server's own allow-list, with a resolver that never leaves the process."""
    return EgressGuard(["127.0.0.1/32"], resolver=dns)


def tool_body(url: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": "lookup",
        "description": "Look an item up.",
        "url": url,
        "method": "GET",
        "parameters": {"type": "object", "properties": {}},
        **fields,
    }


def definition(
    url: str, method: HttpMethod = "GET", parameters: dict[str, Any] | None = None
) -> HttpToolDef:
    return HttpToolDef(
        name="hook",
        description="A test hook.",
        url=url,
        method=method,
        parameters=parameters or {"type": "object"},
        headers={"Authorization": SECRET},
    )


def _host_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {"host": {"type": "string"}}, "required": ["host"]}


# -- defining tools over REST ------------------------------------------------------------------


async def test_create_list_and_delete(store: Store, target: Target) -> None:
    body = tool_body(
        f"{target.base_url}/echo/items/{{item_id}}",
        parameters={
            "type": "object",
            "properties": {"item_id": {"type": "string"}},
            "required": ["item_id"],
        },
        headers={"Authorization": SECRET, "X-Api-Key": API_KEY},
        read_only=True,
    )
    r = await store.admin.post(f"{store.path}/tools", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["name"] == "lookup" and created["kind"] == "http"
    assert created["read_only"] is True
    assert created["parameters"] == body["parameters"]
    assert created["http"]["url"] == body["url"] and created["http"]["method"] == "GET"
    assert created["http"]["header_names"] == ["Authorization", "X-Api-Key"]
    assert "s3cret" not in r.text and API_KEY not in r.text

    r = await store.admin.get(f"{store.path}/tools")
    assert r.status_code == 200
    assert "s3cret" not in r.text and API_KEY not in r.text
    listed = {t["name"]: t for t in r.json()["items"]}
    assert set(BUILTIN_TOOLS) | set(AGENT_TOOLS) | {"lookup"} == set(listed)
    for name, spec in BUILTIN_TOOLS.items():
        assert listed[name]["kind"] == "builtin"
        assert listed[name]["read_only"] is spec.read_only
        assert listed[name]["parameters"] == spec.parameters()
        assert listed[name]["description"] == spec.description
        assert listed[name]["http"] is None
    assert listed["create_project"]["read_only"] is False
    assert listed["list_projects"]["read_only"] is True
    assert listed["lookup"] == created

    reader = store.live.client(await store.key("readonly"))
    async with reader:
        assert (await reader.get(f"{store.path}/tools")).status_code == 200
        r = await reader.post(f"{store.path}/tools", json=tool_body(body["url"], name="other"))
        assert r.status_code == 403
        assert (await reader.delete(f"{store.path}/tools/lookup")).status_code == 403
        r = await reader.post(f"{store.path}/tools/lookup/test", json={"arguments": {}})
        assert r.status_code == 403

    other_store = await store.live.new_store()
    async with other_store.admin:
        r = await other_store.admin.get(f"{other_store.path}/tools")
        assert "lookup" not in {t["name"] for t in r.json()["items"]}

    assert (await store.admin.delete(f"{store.path}/tools/lookup")).status_code == 204
    r = await store.admin.delete(f"{store.path}/tools/lookup")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await store.admin.delete(f"{store.path}/tools/create_project")
    assert r.status_code == 409 and "built-in" in r.json()["error"]["message"]
    r = await store.admin.get(f"{store.path}/tools")
    assert {t["name"] for t in r.json()["items"]} == set(BUILTIN_TOOLS) | set(AGENT_TOOLS)
    assert target.requests == []  # defining a tool sends nothing


def _stored_row(db_path: Path, store_id: str) -> tuple[str, ...]:
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        row = conn.execute(
            "SELECT * FROM http_tools WHERE store_id = ? AND name = 'lookup'", (store_id,)
        ).fetchone()
        columns = [c[0] for c in conn.execute("SELECT * FROM http_tools LIMIT 0").description]
    assert row is not None
    return tuple(f"{c}={v}" for c, v in zip(columns, row, strict=True))


@pytest.mark.in_process  # reads the in-process server's own database
async def test_headers_are_encrypted_at_rest(store: Store, target: Target) -> None:
    headers = {"Authorization": SECRET, "X-Api-Key": API_KEY}
    r = await store.admin.post(
        f"{store.path}/tools", json=tool_body(f"{target.base_url}/echo/x", headers=headers)
    )
    assert r.status_code == 201, r.text
    db_path = store.live.settings.data_dir / "loopwright.db"
    row = await asyncio.to_thread(_stored_row, db_path, store.id)
    text = "\n".join(row)
    assert "s3cret" not in text and API_KEY not in text and "Authorization" not in text
    (encrypted,) = [c.split("=", 1)[1] for c in row if c.startswith("headers_enc=")]
    secrets = store.live.app.state.services.runtime.secrets
    assert json.loads(secrets.decrypt(encrypted)) == headers


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"name": "has.dot"}, "name"),
        ({"name": "has space"}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": ""}, "name"),
        ({"method": "TRACE"}, "method"),
        ({"url": "ftp://127.0.0.1/x"}, "url"),
        ({"description": ""}, "description"),
        ({"parameters": {"type": "array"}}, "parameters"),
        ({"parameters": {"type": "object", "properties": {"a": {"type": "nope"}}}}, "parameters"),
        ({"parameters": {"type": "object", "required": "a"}}, "parameters"),
        ({"parameters": {"type": "object", "$schema": 7}}, "parameters"),
        ({"headers": {"Host": "example.com"}}, "headers"),
        ({"headers": {"Idempotency-Key": "mine"}}, "headers"),
        ({"headers": {"Bad Name": "x"}}, "headers"),
        ({"headers": {"X-Split": "a\r\nInjected: yes"}}, "headers"),
        ({"headers": {"X-A": "1", "x-a": "2"}}, "headers"),
        ({"url": "http://127.0.0.1:9/items/{item_id}"}, "body"),
        ({"url": "http://{host}/x", "parameters": _host_schema()}, "body"),
    ],
)
async def test_invalid_definitions_are_refused(
    store: Store, fields: dict[str, Any], where: str
) -> None:
    r = await store.admin.post(
        f"{store.path}/tools", json={**tool_body("http://127.0.0.1:9/x"), **fields}
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    assert any(where in problem["loc"] for problem in error["details"]), error


async def test_placeholders_must_be_required_properties(store: Store) -> None:
    optional = {"type": "object", "properties": {"item_id": {"type": "string"}}}
    r = await store.admin.post(
        f"{store.path}/tools",
        json=tool_body("http://127.0.0.1:9/items/{item_id}", parameters=optional),
    )
    assert r.status_code == 422
    assert "required" in r.json()["error"]["details"][0]["message"]


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.5/x", "http://169.254.169.254/latest", "http://[::1]/x", "http://0.0.0.0/"],
)
async def test_refused_urls(store: Store, url: str) -> None:
    """The live server allows only 127.0.0.1/32; these literals are decided without I/O."""
    r = await store.admin.post(f"{store.path}/tools", json=tool_body(url))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "egress_denied"


async def test_names_clash_with_tools_and_built_ins(store: Store) -> None:
    url = "http://127.0.0.1:9/x"
    assert (await store.admin.post(f"{store.path}/tools", json=tool_body(url))).status_code == 201
    r = await store.admin.post(f"{store.path}/tools", json=tool_body(url))
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    r = await store.admin.post(f"{store.path}/tools", json=tool_body(url, name="create_project"))
    assert r.status_code == 409 and "built-in" in r.json()["error"]["message"]
    other_store = await store.live.new_store()
    async with other_store.admin:  # names are unique per store only
        r = await other_store.admin.post(f"{other_store.path}/tools", json=tool_body(url))
        assert r.status_code == 201


# -- the test endpoint -------------------------------------------------------------------------


async def test_test_endpoint_fills_the_url_and_query(store: Store, target: Target) -> None:
    parameters = {
        "type": "object",
        "properties": {
            "item_id": {"type": "string"},
            "q": {"type": "string"},
            "limit": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["item_id"],
        "additionalProperties": False,
    }
    body = tool_body(
        f"{target.base_url}/echo/items/{{item_id}}?fixed=1",
        parameters=parameters,
        headers={"Authorization": SECRET, "X-Api-Key": API_KEY},
    )
    assert (await store.admin.post(f"{store.path}/tools", json=body)).status_code == 201
    arguments = {"item_id": "a b/../c", "q": "x&y=z", "limit": 3, "tags": ["p", "q"]}
    r = await store.admin.post(f"{store.path}/tools/lookup/test", json={"arguments": arguments})
    assert r.status_code == 200, r.text
    outcome = r.json()
    assert outcome["ok"] is True and outcome["duration_ms"] >= 0
    assert outcome["result"]["status"] == 200
    (seen,) = target.requests
    assert seen["method"] == "GET"
    assert seen["raw_path"] == "/echo/items/a%20b%2F..%2Fc"
    assert seen["query"] == [
        ["fixed", "1"],
        ["q", "x&y=z"],
        ["limit", "3"],
        ["tags", "p"],
        ["tags", "q"],
    ]
    assert seen["json"] is None
    assert seen["authorization"] == SECRET and seen["x_api_key"] == API_KEY
    assert seen["idempotency_key"].startswith("test:")
    # The target echoed the secrets back; the result the model would read has them redacted.
    assert outcome["result"]["body"]["authorization"] == "[redacted]"
    assert outcome["result"]["body"]["x_api_key"] == "[redacted]"
    assert "s3cret" not in r.text and API_KEY not in r.text

    r = await store.admin.post(
        f"{store.path}/tools/lookup/test", json={"arguments": {"item_id": 5, "extra": 1}}
    )
    assert r.status_code == 422
    problems = r.json()["error"]["details"]["problems"]
    assert {p["message"] for p in problems} >= {"5 is not of type 'string'"}
    assert len(target.requests) == 1  # invalid arguments never reach the target


async def test_test_endpoint_sends_a_json_body(store: Store, target: Target) -> None:
    parameters = {
        "type": "object",
        "properties": {"order_id": {"type": "integer"}, "item": {"type": "string"}},
        "required": ["order_id"],
    }
    body = tool_body(
        f"{target.base_url}/echo/orders/{{order_id}}", method="POST", parameters=parameters
    )
    assert (await store.admin.post(f"{store.path}/tools", json=body)).status_code == 201
    arguments = {"order_id": 7, "item": "book"}
    r = await store.admin.post(f"{store.path}/tools/lookup/test", json={"arguments": arguments})
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True
    (seen,) = target.requests
    assert seen["method"] == "POST" and seen["raw_path"] == "/echo/orders/7"
    assert seen["query"] == [] and seen["json"] == {"item": "book"}
    assert seen["authorization"] is None
    assert r.json()["result"]["body"] == seen


async def test_test_endpoint_reports_non_2xx(store: Store, target: Target) -> None:
    body = tool_body(f"{target.base_url}/status/500", method="DELETE")
    assert (await store.admin.post(f"{store.path}/tools", json=body)).status_code == 201
    r = await store.admin.post(f"{store.path}/tools/lookup/test", json={"arguments": {}})
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is False
    assert r.json()["result"] == {"status": 500, "body": {"error": "boom"}}
    assert [s["method"] for s in target.requests] == ["DELETE"]


async def test_test_endpoint_on_a_built_in_tool(store: Store) -> None:
    path = f"{store.path}/tools/create_project/test"
    r = await store.admin.post(path, json={"arguments": {"name": "from-test"}})
    assert r.status_code == 200, r.text
    outcome = r.json()
    assert outcome["ok"] is True
    project = outcome["result"]["project"]
    assert project["name"] == "from-test" and project["id"].startswith("prj_")
    r = await store.admin.get(f"{store.path}/projects/{project['id']}")
    assert r.status_code == 200 and r.json()["name"] == "from-test"

    r = await store.admin.post(path, json={"arguments": {"name": "from-test"}})
    assert r.status_code == 200
    assert r.json()["ok"] is False and "from-test" in r.json()["result"]["error"]

    r = await store.admin.post(path, json={"arguments": {"nme": "typo"}})
    assert r.status_code == 422
    assert r.json()["error"]["details"]["tool"] == "create_project"
    assert r.json()["error"]["details"]["problems"]

    r = await store.admin.post(f"{store.path}/tools/list_projects/test", json={"arguments": {}})
    assert r.json()["ok"] is True
    assert [p["name"] for p in r.json()["result"]["projects"]] == ["from-test"]


async def test_test_endpoint_on_an_unknown_tool(store: Store) -> None:
    r = await store.admin.post(f"{store.path}/tools/nothing/test", json={"arguments": {}})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


# -- call_http_tool directly -------------------------------------------------------------------


async def test_a_hanging_target_times_out(
    target: Target, client: httpx2.AsyncClient, guard: EgressGuard
) -> None:
    ok, result = await call_http_tool(
        definition(f"{target.base_url}/hang"),
        {},
        client=client,
        egress=guard,
        idempotency_key="k-hang",
        timeout_s=0.2,
    )
    assert ok is False
    assert result == {"error": "hook did not answer within 0.2 s"}
    assert target.paths() == ["/hang"]


async def test_a_huge_body_is_truncated(
    target: Target, client: httpx2.AsyncClient, guard: EgressGuard
) -> None:
    ok, result = await call_http_tool(
        definition(f"{target.base_url}/huge"),
        {},
        client=client,
        egress=guard,
        idempotency_key="k-huge",
        timeout_s=10,
        max_response_bytes=1000,
    )
    assert ok is True
    assert result == {"status": 200, "body": "x" * 1000, "truncated": True}


async def test_a_refused_connection_is_an_error_result(
    client: httpx2.AsyncClient, guard: EgressGuard
) -> None:
    with socket.socket() as sock:  # a port nobody listens on once this socket closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ok, result = await call_http_tool(
        definition(f"http://127.0.0.1:{port}/x"),
        {},
        client=client,
        egress=guard,
        idempotency_key="k-refused",
        timeout_s=10,
    )
    assert ok is False
    assert result["error"].startswith("request failed: ConnectError")


async def test_a_redirect_to_a_refused_address_is_not_followed(
    target: Target, client: httpx2.AsyncClient, guard: EgressGuard, dns: FakeDNS
) -> None:
    url = f"{target.base_url}/redirect?to=http://internal.example/admin&code=302"
    ok, result = await call_http_tool(
        definition(url),
        {},
        client=client,
        egress=guard,
        idempotency_key="k-redirect",
        timeout_s=10,
    )
    assert ok is False
    assert result["error"].startswith("egress refused: internal.example resolves to an internal")
    assert result["details"] == {"host": "internal.example", "addresses": ["10.0.0.5"]}
    assert dns.asked == ["internal.example"]  # decided by the guard, before any request
    assert target.paths() == ["/redirect"]


async def test_the_first_url_is_checked_too(
    client: httpx2.AsyncClient, guard: EgressGuard, dns: FakeDNS
) -> None:
    ok, result = await call_http_tool(
        definition("http://internal.example/x"),
        {},
        client=client,
        egress=guard,
        idempotency_key="k-first",
        timeout_s=10,
    )
    assert ok is False and result["error"].startswith("egress refused")
    assert dns.asked == ["internal.example"]


async def test_redirects_within_the_allowed_addresses_are_followed(
    target: Target, client: httpx2.AsyncClient, guard: EgressGuard
) -> None:
    parameters = {"type": "object", "properties": {"n": {"type": "integer"}}}
    defn = definition(
        f"{target.base_url}/redirect?to=/echo/after&code=307", "POST", parameters=parameters
    )
    ok, result = await call_http_tool(
        defn, {"n": 1}, client=client, egress=guard, idempotency_key="k-307", timeout_s=10
    )
    assert ok is True, result
    first, second = target.requests
    assert first["raw_path"] == "/redirect" and second["raw_path"] == "/echo/after"
    assert second["method"] == "POST" and second["json"] == {"n": 1}  # 307 keeps method and body
    assert second["authorization"] == SECRET  # same origin: the tool's headers go along
    assert first["idempotency_key"] == second["idempotency_key"] == "k-307"
    assert result["body"]["authorization"] == "[redacted]"

    target.requests.clear()
    defn = definition(f"{target.base_url}/redirect?to=/echo/seen&code=303", "POST")
    ok, result = await call_http_tool(
        defn, {}, client=client, egress=guard, idempotency_key="k-303", timeout_s=10
    )
    assert ok is True
    assert [(r["method"], r["json"]) for r in target.requests] == [("POST", {}), ("GET", None)]


async def test_a_redirect_to_another_origin_drops_the_tools_headers(
    target: Target, other: Target, client: httpx2.AsyncClient, guard: EgressGuard
) -> None:
    url = f"{target.base_url}/redirect?to={other.base_url}/echo/elsewhere&code=302"
    ok, result = await call_http_tool(
        definition(url), {}, client=client, egress=guard, idempotency_key="k-x", timeout_s=10
    )
    assert ok is True and result["body"]["raw_path"] == "/echo/elsewhere"
    assert target.requests[0]["authorization"] == SECRET
    (seen,) = other.requests
    assert seen["raw_path"] == "/echo/elsewhere"
    assert seen["authorization"] is None and seen["idempotency_key"] == "k-x"


async def test_redirects_are_limited(
    target: Target, client: httpx2.AsyncClient, guard: EgressGuard
) -> None:
    ok, result = await call_http_tool(
        definition(f"{target.base_url}/loop"),
        {},
        client=client,
        egress=guard,
        idempotency_key="k-loop",
        timeout_s=10,
        max_redirects=2,
    )
    assert ok is False
    assert result == {"error": "more than 2 redirects", "status": 302}
    assert target.paths() == ["/loop", "/loop", "/loop"]


async def test_invalid_arguments_never_reach_the_target(
    target: Target, client: httpx2.AsyncClient, guard: EgressGuard
) -> None:
    parameters = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    ok, result = await call_http_tool(
        definition(f"{target.base_url}/echo/x", parameters=parameters),
        {"n": "one"},
        client=client,
        egress=guard,
        idempotency_key="k-invalid",
        timeout_s=10,
    )
    assert ok is False
    assert result["problems"] == [{"loc": ["n"], "message": "'one' is not of type 'integer'"}]
    assert target.requests == []


def test_the_headers_stay_out_of_repr() -> None:
    defn = definition("http://127.0.0.1:9/x")
    assert "s3cret" not in repr(defn) and "hook" in repr(defn)
