"""GENERATED from ``_async_resources.py`` by ``scripts/unasync_client.py``: do not edit; edit
``_async_resources.py`` and run the script. (The synchronous twin of the async client.)"""

from __future__ import annotations

from typing import Any, Literal, Unpack

import httpx

from loopwright.client._sync_base import Resource, query
from loopwright.client.errors import TransportFailed, error_from_response
from loopwright.client.models import (
    Document,
    DocumentFields,
    DocumentSettings,
    HttpToolFields,
    IssuedKey,
    Key,
    McpHealth,
    McpServer,
    McpServerFields,
    Page,
    Project,
    ProjectFields,
    Provider,
    ProviderFields,
    Readiness,
    Store,
    Task,
    TaskFields,
    TaskSettings,
    Tool,
    ToolCall,
    ToolTestResult,
    UsageReport,
    Worker,
)


class Stores(Resource):
    def create(self, store_id: str, name: str | None = None) -> Store:
        body = {"id": store_id, **({"name": name} if name is not None else {})}
        return self._c.call(Store, "POST", "/v1/stores", json=body)

    def get(self, store_id: str | None = None) -> Store:
        path = f"/v1/stores/{store_id}" if store_id else self._c.store_path()
        return self._c.call(Store, "GET", path)

    def list(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Store]:
        """Every store, by id (operator key)."""
        params = query(limit=limit, cursor=cursor)
        return self._c.call(Page[Store], "GET", "/v1/stores", params=params)


class Keys(Resource):
    def create(self, role: str, name: str | None = None) -> IssuedKey:
        body = {"role": role, **({"name": name} if name is not None else {})}
        return self._c.call(IssuedKey, "POST", f"{self._c.store_path()}/keys", json=body)

    def list(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Key]:
        path = f"{self._c.store_path()}/keys"
        return self._c.call(Page[Key], "GET", path, params=query(limit=limit, cursor=cursor))

    def delete(self, key_id: str) -> None:
        self._c.request("DELETE", f"{self._c.store_path()}/keys/{key_id}")


class Providers(Resource):
    def create(self, name: str, kind: str, **fields: Unpack[ProviderFields]) -> Provider:
        body = {"name": name, "kind": kind, **fields}
        path = f"{self._c.store_path()}/providers"
        return self._c.call(Provider, "POST", path, json=body)

    def list(self) -> Page[Provider]:
        return self._c.call(Page[Provider], "GET", f"{self._c.store_path()}/providers")

    def delete(self, provider_id: str) -> None:
        self._c.request("DELETE", f"{self._c.store_path()}/providers/{provider_id}")


class Projects(Resource):
    def create(self, name: str, *, description: str | None = None) -> Project:
        body = {"name": name, **query(description=description)}
        return self._c.call(Project, "POST", f"{self._c.store_path()}/projects", json=body)

    def list(
        self, *, q: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[Project]:
        params = query(q=q, limit=limit, cursor=cursor)
        path = f"{self._c.store_path()}/projects"
        return self._c.call(Page[Project], "GET", path, params=params)

    def get(self, project_id: str) -> Project:
        path = f"{self._c.store_path()}/projects/{project_id}"
        return self._c.call(Project, "GET", path)

    def update(self, project_id: str, **fields: Unpack[ProjectFields]) -> Project:
        path = f"{self._c.store_path()}/projects/{project_id}"
        return self._c.call(Project, "PATCH", path, json=fields)

    def delete(self, project_id: str) -> None:
        self._c.request("DELETE", f"{self._c.store_path()}/projects/{project_id}")


class Tasks(Resource):
    def create(self, title: str, **fields: Unpack[TaskSettings]) -> Task:
        body = {**fields, "title": title}
        return self._c.call(Task, "POST", f"{self._c.store_path()}/tasks", json=body)

    def list(
        self,
        *,
        project_id: str | None = None,
        status: str | None = None,
        q: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Task]:
        params = query(project_id=project_id, status=status, q=q, limit=limit, cursor=cursor)
        return self._c.call(Page[Task], "GET", f"{self._c.store_path()}/tasks", params=params)

    def get(self, task_id: str) -> Task:
        return self._c.call(Task, "GET", f"{self._c.store_path()}/tasks/{task_id}")

    def update(self, task_id: str, **fields: Unpack[TaskFields]) -> Task:
        path = f"{self._c.store_path()}/tasks/{task_id}"
        return self._c.call(Task, "PATCH", path, json=fields)

    def delete(self, task_id: str) -> None:
        self._c.request("DELETE", f"{self._c.store_path()}/tasks/{task_id}")


class Documents(Resource):
    def create(self, title: str, **fields: Unpack[DocumentSettings]) -> Document:
        body = {**fields, "title": title}
        path = f"{self._c.store_path()}/documents"
        return self._c.call(Document, "POST", path, json=body)

    def list(
        self,
        *,
        project_id: str | None = None,
        q: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Document]:
        params = query(project_id=project_id, q=q, limit=limit, cursor=cursor)
        path = f"{self._c.store_path()}/documents"
        return self._c.call(Page[Document], "GET", path, params=params)

    def get(self, document_id: str) -> Document:
        path = f"{self._c.store_path()}/documents/{document_id}"
        return self._c.call(Document, "GET", path)

    def update(self, document_id: str, **fields: Unpack[DocumentFields]) -> Document:
        path = f"{self._c.store_path()}/documents/{document_id}"
        return self._c.call(Document, "PATCH", path, json=fields)

    def delete(self, document_id: str) -> None:
        self._c.request("DELETE", f"{self._c.store_path()}/documents/{document_id}")


class Tools(Resource):
    def list(self) -> Page[Tool]:
        return self._c.call(Page[Tool], "GET", f"{self._c.store_path()}/tools")

    def create(
        self, name: str, description: str, url: str, **fields: Unpack[HttpToolFields]
    ) -> Tool:
        body = {"name": name, "description": description, "url": url, **fields}
        return self._c.call(Tool, "POST", f"{self._c.store_path()}/tools", json=body)

    def delete(self, name: str) -> None:
        self._c.request("DELETE", f"{self._c.store_path()}/tools/{name}")

    def test(self, name: str, arguments: dict[str, Any] | None = None) -> ToolTestResult:
        path = f"{self._c.store_path()}/tools/{name}/test"
        body = {"arguments": arguments or {}}
        return self._c.call(ToolTestResult, "POST", path, json=body)


class McpServers(Resource):
    def create(
        self, name: str, transport: str, url: str, *, headers: dict[str, str] | None = None
    ) -> McpServer:
        body = {"name": name, "transport": transport, "url": url, **query(headers=headers)}
        path = f"{self._c.store_path()}/mcp-servers"
        return self._c.call(McpServer, "POST", path, json=body)

    def list(self) -> Page[McpServer]:
        path = f"{self._c.store_path()}/mcp-servers"
        return self._c.call(Page[McpServer], "GET", path)

    def get(self, server_id: str) -> McpServer:
        path = f"{self._c.store_path()}/mcp-servers/{server_id}"
        return self._c.call(McpServer, "GET", path)

    def update(self, server_id: str, **fields: Unpack[McpServerFields]) -> McpServer:
        path = f"{self._c.store_path()}/mcp-servers/{server_id}"
        return self._c.call(McpServer, "PATCH", path, json=fields)

    def delete(self, server_id: str) -> None:
        self._c.request("DELETE", f"{self._c.store_path()}/mcp-servers/{server_id}")

    def health(self, server_id: str) -> McpHealth:
        path = f"{self._c.store_path()}/mcp-servers/{server_id}/health"
        return self._c.call(McpHealth, "POST", path)


class ToolCalls(Resource):
    def list(
        self,
        *,
        run_id: str | None = None,
        agent_id: str | None = None,
        tool: str | None = None,
        outcome: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[ToolCall]:
        params = query(
            run_id=run_id, agent_id=agent_id, tool=tool, outcome=outcome, limit=limit, cursor=cursor
        )
        path = f"{self._c.store_path()}/tool-calls"
        return self._c.call(Page[ToolCall], "GET", path, params=params)


class Usage(Resource):
    def get(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        bucket: Literal["hour", "day"] | None = None,
        group_by: Literal["agent", "model", "day"] | None = None,
    ) -> UsageReport:
        """The store's usage; ``group_by="day"`` is ``bucket="day"`` over the whole store."""
        params = query(since=since, until=until, bucket=bucket, group_by=group_by)
        path = f"{self._c.store_path()}/usage"
        return self._c.call(UsageReport, "GET", path, params=params)

    def all_stores(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        bucket: Literal["hour", "day"] | None = None,
        group_by: Literal["store", "model", "day"] | None = None,
    ) -> UsageReport:
        """The operator's view over every store (an operator key)."""
        params = query(since=since, until=until, bucket=bucket, group_by=group_by)
        return self._c.call(UsageReport, "GET", "/v1/usage", params=params)


class Ops(Resource):
    """The server's own health: no store, no key needed."""

    def health(self) -> bool:
        """The process answers (``GET /healthz``)."""
        answer: dict[str, str] = (self._c.request("GET", "/healthz")).json()
        return answer.get("status") == "ok"

    def ready(self) -> Readiness:
        """``GET /readyz``: a 503 (not ready) is answered, not raised; see ``.ready``."""
        try:
            response = self._c.http.get("/readyz")
        except httpx.TransportError as exc:
            raise TransportFailed(f"GET /readyz: {exc!r}") from exc
        if response.status_code not in (200, 503):
            raise error_from_response(response)
        return Readiness.model_validate_json(response.content)

    def workers(self) -> list[Worker]:
        """The worker processes on the database (``GET /v1/workers``, operator key): host,
        versions, last heartbeat, and ``state`` alive, expired or fenced."""
        return (self._c.call(Page[Worker], "GET", "/v1/workers")).items

    def metrics(self, token: str | None = None) -> str:
        """The Prometheus text (``token``: the server's metrics token, when it has one)."""
        headers = {"Authorization": f"Bearer {token}"} if token else None
        return (self._c.request("GET", "/metrics", headers=headers)).text
