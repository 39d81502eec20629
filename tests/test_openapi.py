"""The OpenAPI document tells the truth: the errors each operation can answer (in the server's
error shape), the bearer scheme, what PATCH accepts; and the server answers what it documents
(a 405 names every allowed method, `null` where a field is nullable, `parameters: {}`)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest

import loopwright
from loopwright.errors import LoopwrightError
from loopwright.server.app import create_app
from loopwright.server.errors import ERROR_CODES
from loopwright.server.openapi import ERROR_BODY_REF
from loopwright.server.routes.events import MAX_SEQ
from loopwright.settings import Settings
from tests.conftest import Live, Store

API_DOC = Path(__file__).parent.parent / "docs" / "api.md"


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    found: dict[str, Any] = create_app(Settings(data_dir=tmp_path_factory.mktemp("doc"))).openapi()
    return found


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, by_method in document["paths"].items()
        for method, operation in by_method.items()
    ]


def test_every_error_status_is_documented_with_the_error_body(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        responses = operation["responses"]
        params = operation.get("parameters", [])
        expected = set()
        if path.startswith("/v1/"):
            expected.add("401")
        [roles] = operation.get("security", [{"": []}])[0].values()  # [] or [role]: any key
        assert ("403" in responses) == bool(set(roles) - {"readonly"}), (method, path)
        if "{" in path:
            expected.add("404")
        if params or "requestBody" in operation:
            expected.add("422")
        if "requestBody" in operation:
            expected |= {"400", "413"}
        assert expected <= set(responses), (method, path, sorted(responses))
        for status, response in responses.items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": ERROR_BODY_REF}, (method, path, status)
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's {"detail": ...}, never answered
    codes = schemas["ErrorDetail"]["properties"]["code"]["enum"]
    assert set(codes) == {code for group in ERROR_CODES.values() for code in group}


def test_routes_that_raise_conflicts_document_409(document: dict[str, Any]) -> None:
    conflicting = {
        ("POST", "/v1/stores"),
        ("POST", "/v1/stores/{store_id}/agents"),
        ("PATCH", "/v1/stores/{store_id}/agents/{agent_id}"),
        ("POST", "/v1/stores/{store_id}/providers"),
        ("POST", "/v1/stores/{store_id}/tools"),
        ("DELETE", "/v1/stores/{store_id}/tools/{name}"),
        ("POST", "/v1/stores/{store_id}/tools/{name}/test"),
        ("POST", "/v1/stores/{store_id}/projects"),
        ("PATCH", "/v1/stores/{store_id}/projects/{project_id}"),
        ("POST", "/v1/stores/{store_id}/mcp-servers"),
        ("PATCH", "/v1/stores/{store_id}/mcp-servers/{server_id}"),
        ("POST", "/v1/stores/{store_id}/sessions/{session_id}/messages"),
        ("POST", "/v1/stores/{store_id}/memory-suggestions/{suggestion_id}/approve"),
        ("POST", "/v1/stores/{store_id}/memory-suggestions/{suggestion_id}/reject"),
        ("POST", "/v1/stores/{store_id}/approvals/{approval_id}/approve"),
        ("POST", "/v1/stores/{store_id}/approvals/{approval_id}/reject"),
        ("POST", "/hooks/{webhook_id}"),  # a replayed webhook-id
        ("POST", "/v1/stores/{store_id}/agents/{agent_id}/mailbox"),
    }
    for method, path, operation in operations(document):
        assert ("409" in operation["responses"]) == ((method, path) in conflicting), (method, path)


def test_every_v1_operation_takes_the_bearer_key_and_names_its_role(
    document: dict[str, Any],
) -> None:
    scheme = document["components"]["securitySchemes"]["HTTPBearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    roles: dict[str, str | None] = {}
    for method, path, operation in operations(document):
        if not path.startswith("/v1/"):
            assert "security" not in operation, (method, path)
            continue
        [requirement] = operation["security"]
        [(name, named)] = requirement.items()
        assert name == "HTTPBearer"
        assert len(named) <= 1, (method, path)  # one role, or none: any key will do
        roles[f"{method} {path}"] = named[0] if named else None
    assert roles["POST /v1/stores"] == "operator"
    assert roles["GET /v1/stores/{store_id}/agents"] == "readonly"
    assert roles["POST /v1/stores/{store_id}/sessions/{session_id}/messages"] == "member"
    assert roles["PATCH /v1/stores/{store_id}/agents/{agent_id}"] == "admin"


def _all_error_classes() -> list[type[LoopwrightError]]:
    for module in pkgutil.walk_packages(loopwright.__path__, "loopwright."):
        if module.name != "loopwright.__main__" and ".migrations" not in module.name:
            importlib.import_module(module.name)  # (migrations run only under alembic)
    found: list[type[LoopwrightError]] = []
    todo: list[type[LoopwrightError]] = [LoopwrightError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return found


def test_error_codes_list_every_error_the_server_has() -> None:
    for cls in _all_error_classes():
        assert cls.code in ERROR_CODES.get(cls.status, ()), (cls, cls.status, cls.code)


def test_the_api_doc_lists_every_error_code() -> None:
    rows = set(re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", API_DOC.read_text(), re.MULTILINE))
    for status, codes in ERROR_CODES.items():
        for code in codes:
            assert (str(status), code) in rows, (status, code)


def test_patch_schemas_are_nullable_only_where_null_clears(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    nullable = {
        name: sorted(
            field
            for field, prop in schemas[name]["properties"].items()
            if {"type": "null"} in prop.get("anyOf", [])
        )
        for name in schemas
        if name.endswith("Update")
    }
    assert nullable == {
        "AgentUpdate": ["executor_model", "reflect_idle_s", "temperature"],
        "DocumentUpdate": ["project_id"],
        "McpServerUpdate": ["headers"],
        "MemoryUpdate": [],
        "ProjectUpdate": [],
        "ScheduleUpdate": [],
        "SessionUpdate": [],
        "StoreSettingsUpdate": [
            "daily_token_budget",
            "runs_per_min",
            "tokens_per_min",
            "tool_calls_per_min",
        ],
        "TaskUpdate": ["project_id"],
        "WebhookUpdate": [],
    }


def test_event_cursors_are_bounded_in_the_document(document: dict[str, Any]) -> None:
    operation = document["paths"]["/v1/stores/{store_id}/events"]["get"]
    params = {p["name"]: p["schema"] for p in operation["parameters"]}
    after = next(s for s in params["after"]["anyOf"] if s.get("type") == "integer")
    assert (after["minimum"], after["maximum"]) == (0, MAX_SEQ)
    header = next(s for s in params["Last-Event-ID"]["anyOf"] if s.get("type") == "string")
    assert header["pattern"] == "^[0-9]{1,19}$"


async def test_405_names_every_method_of_the_path(store: Store) -> None:
    agent = await store.agent()
    r = await store.admin.put(f"{store.path}/agents/{agent['id']}")
    assert r.status_code == 405
    assert r.headers["allow"] == "DELETE, GET, PATCH"
    assert r.json()["error"]["code"] == "method_not_allowed"
    r = await store.admin.delete(f"{store.path}/agents")
    assert (r.status_code, r.headers["allow"]) == (405, "GET, POST")


@pytest.mark.both_databases  # what is stored for null and {}: the database's
async def test_patch_null_clears_what_is_nullable_and_refuses_the_rest(store: Store) -> None:
    agent = await store.agent(temperature=0.5)
    r = await store.admin.patch(f"{store.path}/agents/{agent['id']}", json={"temperature": None})
    assert r.status_code == 200, r.text
    assert r.json()["temperature"] is None
    r = await store.admin.patch(f"{store.path}/agents/{agent['id']}", json={"name": None})
    assert r.status_code == 422
    assert [p["loc"] for p in r.json()["error"]["details"]] == [["body", "name"]]

    project = (await store.admin.post(f"{store.path}/projects", json={"name": "p"})).json()
    body = {"title": "t", "project_id": project["id"]}
    task = (await store.admin.post(f"{store.path}/tasks", json=body)).json()
    r = await store.admin.patch(f"{store.path}/tasks/{task['id']}", json={"project_id": None})
    assert (r.status_code, r.json()["project_id"]) == (200, None)
    r = await store.admin.patch(f"{store.path}/tasks/{task['id']}", json={"title": None})
    assert r.status_code == 422

    session = await store.session(agent["id"], title="kept")
    r = await store.admin.patch(f"{store.path}/sessions/{session['id']}", json={"title": None})
    assert r.status_code == 422  # was silently ignored
    r = await store.admin.patch(f"{store.path}/sessions/{session['id']}", json={})
    assert (r.status_code, r.json()["title"]) == (200, "kept")

    server = {
        "name": "m1",
        "transport": "streamable_http",
        "url": "http://127.0.0.1:9/mcp",
        "headers": {"X-Token": "secret"},
    }
    created = await store.admin.post(f"{store.path}/mcp-servers", json=server)
    assert created.status_code == 201, created.text
    path = f"{store.path}/mcp-servers/{created.json()['id']}"
    r = await store.admin.patch(path, json={"headers": None})
    assert (r.status_code, r.json()["header_names"]) == (200, [])
    r = await store.admin.patch(path, json={"enabled": None})
    assert r.status_code == 422


@pytest.mark.both_databases  # what is stored for null and {}: the database's
async def test_an_http_tool_may_take_no_parameters(store: Store) -> None:
    body = {
        "name": "ping",
        "description": "no arguments",
        "url": "http://127.0.0.1:9/ping",
        "method": "GET",
        "parameters": {},
    }
    r = await store.admin.post(f"{store.path}/tools", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["parameters"] == {"type": "object", "properties": {}}


async def test_the_served_document_is_the_derived_one(live: Live, document: dict[str, Any]) -> None:
    served = (await live.http.get("/openapi.json")).json()
    assert served["paths"].keys() == document["paths"].keys()
    agents = served["paths"]["/v1/stores/{store_id}/agents"]["post"]["responses"]
    assert sorted(agents) == ["201", "400", "401", "403", "404", "409", "413", "422"]
