"""The synchronous client (``Client``): GENERATED from ``_async.py`` by
``scripts/unasync_client.py`` -- do not edit; edit ``_async.py`` and run the script."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar, Unpack, overload

import httpx
from pydantic import BaseModel

from loopwright.client.errors import (
    ClientError,
    NotFound,
    ServerError,
    TransportFailed,
    ValidationFailed,
    error_from_response,
    stream_closed,
)
from loopwright.client.events import RUN_ENDS, Event, EventPage, parse_event, parse_event_object
from loopwright.client.models import (
    Agent,
    AgentFields,
    BusyPolicy,
    Document,
    DocumentFields,
    DocumentSettings,
    HttpToolFields,
    IssuedKey,
    Key,
    McpHealth,
    McpServer,
    McpServerFields,
    Me,
    Message,
    NewAgent,
    Page,
    Plan,
    PlanSummary,
    Priority,
    Project,
    ProjectFields,
    Provider,
    ProviderFields,
    Run,
    SentMessage,
    Session,
    Step,
    Store,
    Task,
    TaskFields,
    TaskSettings,
    Tool,
    ToolCall,
    ToolTestResult,
    UsageReport,
)
from loopwright.client.sse import FrameParser

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8080"
_NO_MATCH = "loopwright.client.none"
"""A ``types`` filter no event has: a page of it is empty and its ``next_after`` is the head."""


def _params(**values: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list | tuple):
            value = ",".join(value)
        out[name] = value
    return out


class Client:
    """The v1 API over HTTP.

    ``url`` and ``key`` default to ``LOOPWRIGHT_URL`` and ``LOOPWRIGHT_KEY``; ``store`` to the
    key's own store (asked of ``/v1/me`` once; an operator key must name one).
    """

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        store: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = url or os.environ.get("LOOPWRIGHT_URL") or DEFAULT_URL
        key = key if key is not None else os.environ.get("LOOPWRIGHT_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(
            base_url=url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )
        self._store = store
        self.stores = Stores(self)
        self.keys = Keys(self)
        self.providers = Providers(self)
        self.agents = Agents(self)
        self.sessions = Sessions(self)
        self.runs = Runs(self)
        self.plans = Plans(self)
        self.events = Events(self)
        self.projects = Projects(self)
        self.tasks = Tasks(self)
        self.documents = Documents(self)
        self.tools = Tools(self)
        self.mcp_servers = McpServers(self)
        self.tool_calls = ToolCalls(self)
        self.usage = Usage(self)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # -- plumbing ------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        timeout_s: float | None = None,
    ) -> httpx.Response:
        """One call; an error answer raises its ``ApiError``, no answer ``TransportFailed``."""
        extra: dict[str, Any] = {} if timeout_s is None else {"timeout": timeout_s}
        try:
            response = self.http.request(method, path, params=params, json=json, **extra)
        except httpx.TransportError as exc:
            raise TransportFailed(f"{method} {path}: {exc!r}") from exc
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def call(
        self,
        model: type[M],
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        timeout_s: float | None = None,
    ) -> M:
        response = self.request(method, path, params=params, json=json, timeout_s=timeout_s)
        return model.model_validate_json(response.content)

    def store_path(self) -> str:
        if self._store is None:
            me = self.me()
            if me.store_id is None:
                raise ClientError("an operator key must name a store: pass store=")
            self._store = me.store_id
        return f"/v1/stores/{self._store}"

    def store_id(self) -> str:
        return (self.store_path()).rsplit("/", 1)[1]

    def me(self) -> Me:
        return self.call(Me, "GET", "/v1/me")

    def paginate(self, fetch: Callable[..., Page[T]], /, **params: Any) -> Iterator[T]:
        """Every item of a list, page after page: ``paginate(client.agents.list, q="x")``."""
        cursor: str | None = None
        while True:
            page = fetch(**params, cursor=cursor)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor


class _Resource:
    def __init__(self, client: Client) -> None:
        self._c = client


class Stores(_Resource):
    def create(self, store_id: str, name: str | None = None) -> Store:
        body = {"id": store_id, **({"name": name} if name is not None else {})}
        return self._c.call(Store, "POST", "/v1/stores", json=body)

    def get(self, store_id: str | None = None) -> Store:
        path = f"/v1/stores/{store_id}" if store_id else self._c.store_path()
        return self._c.call(Store, "GET", path)


class Keys(_Resource):
    def create(self, role: str, name: str | None = None) -> IssuedKey:
        body = {"role": role, **({"name": name} if name is not None else {})}
        return self._c.call(IssuedKey, "POST", f"{self._c.store_path()}/keys", json=body)

    def list(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Key]:
        path = f"{self._c.store_path()}/keys"
        return self._c.call(Page[Key], "GET", path, params=_params(limit=limit, cursor=cursor))

    def delete(self, key_id: str) -> None:
        self._c.request("DELETE", f"{self._c.store_path()}/keys/{key_id}")


class Providers(_Resource):
    def create(self, name: str, kind: str, **fields: Unpack[ProviderFields]) -> Provider:
        body = {"name": name, "kind": kind, **fields}
        path = f"{self._c.store_path()}/providers"
        return self._c.call(Provider, "POST", path, json=body)

    def list(self) -> Page[Provider]:
        return self._c.call(Page[Provider], "GET", f"{self._c.store_path()}/providers")

    def delete(self, provider_id: str) -> None:
        self._c.request("DELETE", f"{self._c.store_path()}/providers/{provider_id}")


class Agents(_Resource):
    def create(self, **fields: Unpack[NewAgent]) -> Agent:
        return self._c.call(Agent, "POST", f"{self._c.store_path()}/agents", json=fields)

    def list(
        self,
        *,
        q: str | None = None,
        status: str | None = None,
        mode: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Agent]:
        params = _params(q=q, status=status, mode=mode, limit=limit, cursor=cursor)
        return self._c.call(Page[Agent], "GET", f"{self._c.store_path()}/agents", params=params)

    def get(self, agent_id: str) -> Agent:
        return self._c.call(Agent, "GET", f"{self._c.store_path()}/agents/{agent_id}")

    def find(self, name_or_id: str) -> Agent | None:
        """The agent with this exact name (or id), or None."""
        for agent in self._c.paginate(self.list, q=name_or_id, limit=200):
            if agent.name == name_or_id:
                return agent
        try:
            return self.get(name_or_id)
        except (NotFound, ValidationFailed):
            return None

    def update(self, agent_id: str, **fields: Unpack[AgentFields]) -> Agent:
        path = f"{self._c.store_path()}/agents/{agent_id}"
        return self._c.call(Agent, "PATCH", path, json=fields)

    def delete(self, agent_id: str) -> None:
        self._c.request("DELETE", f"{self._c.store_path()}/agents/{agent_id}")


class Sessions(_Resource):
    def create(
        self, agent_id: str, *, title: str | None = None, busy_policy: BusyPolicy | None = None
    ) -> Session:
        body = {"agent_id": agent_id, **_params(title=title, busy_policy=busy_policy)}
        return self._c.call(Session, "POST", f"{self._c.store_path()}/sessions", json=body)

    def list(
        self,
        *,
        agent_id: str | None = None,
        child: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Session]:
        params = _params(agent_id=agent_id, child=child, limit=limit, cursor=cursor)
        return self._c.call(Page[Session], "GET", f"{self._c.store_path()}/sessions", params=params)

    def get(self, session_id: str) -> Session:
        path = f"{self._c.store_path()}/sessions/{session_id}"
        return self._c.call(Session, "GET", path)

    def update(
        self, session_id: str, *, title: str | None = None, busy_policy: BusyPolicy | None = None
    ) -> Session:
        path = f"{self._c.store_path()}/sessions/{session_id}"
        body = _params(title=title, busy_policy=busy_policy)
        return self._c.call(Session, "PATCH", path, json=body)

    def delete(self, session_id: str) -> None:
        self._c.request("DELETE", f"{self._c.store_path()}/sessions/{session_id}")

    def messages(
        self,
        session_id: str,
        *,
        order: Literal["oldest", "newest"] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Message]:
        path = f"{self._c.store_path()}/sessions/{session_id}/messages"
        params = _params(order=order, limit=limit, cursor=cursor)
        return self._c.call(Page[Message], "GET", path, params=params)

    @overload
    def send(
        self,
        session_id: str,
        content: str,
        *,
        priority: Priority | None = None,
        wait: bool = False,
        wait_timeout_s: float | None = None,
        stream: Literal[False] = False,
    ) -> SentMessage: ...

    @overload
    def send(
        self,
        session_id: str,
        content: str,
        *,
        priority: Priority | None = None,
        wait: bool = False,
        wait_timeout_s: float | None = None,
        stream: Literal[True],
    ) -> Iterator[Event]: ...

    def send(
        self,
        session_id: str,
        content: str,
        *,
        priority: Priority | None = None,
        wait: bool = False,
        wait_timeout_s: float | None = None,
        stream: bool = False,
    ) -> SentMessage | Iterator[Event]:
        """Send a message: its run is queued (``wait``: answered once it ended). ``stream``:
        the run's events (token deltas included) until it ends, resuming after a dropped
        connection; the stream opens before the message is sent, so none is missed."""
        path = f"{self._c.store_path()}/sessions/{session_id}/messages"
        body = {"content": content, **_params(priority=priority)}
        if wait:
            if stream:
                raise ValueError("stream=True and wait=True exclude each other")
            body["wait"] = True
            if wait_timeout_s is not None:
                body["wait_timeout_s"] = wait_timeout_s
            timeout = (wait_timeout_s or 300.0) + 30.0
            return self._c.call(SentMessage, "POST", path, json=body, timeout_s=timeout)
        if not stream:
            return self._c.call(SentMessage, "POST", path, json=body)
        events = self._c.events
        head = events.head(session_id=session_id)
        opened = events.open(after=head, session_id=session_id)
        try:
            sent = self._c.call(SentMessage, "POST", path, json=body)
        except BaseException:
            opened.close()
            raise
        return events.run_events(sent.run.id, head, session_id, opened)


class Runs(_Resource):
    def list(
        self,
        *,
        session_id: str | None = None,
        parent_run_id: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Run]:
        params = _params(
            session_id=session_id,
            parent_run_id=parent_run_id,
            status=status,
            limit=limit,
            cursor=cursor,
        )
        return self._c.call(Page[Run], "GET", f"{self._c.store_path()}/runs", params=params)

    def get(self, run_id: str) -> Run:
        return self._c.call(Run, "GET", f"{self._c.store_path()}/runs/{run_id}")

    def steps(self, run_id: str) -> Page[Step]:
        path = f"{self._c.store_path()}/runs/{run_id}/steps"
        return self._c.call(Page[Step], "GET", path)

    def cancel(self, run_id: str) -> Run:
        path = f"{self._c.store_path()}/runs/{run_id}/cancel"
        return self._c.call(Run, "POST", path)

    def wait(self, run_id: str, timeout_s: float | None = None) -> Run:
        """The run once it ended, or as it is after ``timeout_s`` (the server's default)."""
        path = f"{self._c.store_path()}/runs/{run_id}/wait"
        return self._c.call(
            Run,
            "POST",
            path,
            params=_params(timeout_s=timeout_s),
            timeout_s=(timeout_s or 300.0) + 30.0,
        )


class Plans(_Resource):
    def list(
        self, *, run_id: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[PlanSummary]:
        params = _params(run_id=run_id, limit=limit, cursor=cursor)
        path = f"{self._c.store_path()}/plans"
        return self._c.call(Page[PlanSummary], "GET", path, params=params)

    def get(self, plan_id: str) -> Plan:
        return self._c.call(Plan, "GET", f"{self._c.store_path()}/plans/{plan_id}")


class Events(_Resource):
    reconnect_delay_s: float = 0.2
    """First wait before reconnecting a dropped stream; doubles per failure, at most 5 s."""
    max_failures: int = 10
    """Failed connection attempts in a row before the stream raises ``TransportFailed``."""
    read_timeout_s: float = 60.0
    """A stream silent this long (the server sends heartbeats) is taken as dropped."""

    def list(
        self,
        *,
        after: int | None = None,
        session_id: str | None = None,
        run_id: str | None = None,
        parent_run_id: str | None = None,
        types: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> EventPage:
        params = _params(
            after=after,
            session_id=session_id,
            run_id=run_id,
            parent_run_id=parent_run_id,
            types=types,
            limit=limit,
        )
        response = self._c.request("GET", f"{self._c.store_path()}/events", params=params)
        body = response.json()
        items = [parse_event_object(item) for item in body["items"]]
        return EventPage.model_construct(items=items, next_after=body["next_after"])

    def head(self, *, session_id: str | None = None) -> int:
        """The store's newest seq: ``stream(after=head)`` follows only what comes next."""
        page = self.list(session_id=session_id, types=[_NO_MATCH], limit=1)
        return page.next_after

    def open(
        self,
        *,
        after: int | None = None,
        session_id: str | None = None,
        run_id: str | None = None,
        parent_run_id: str | None = None,
        types: Sequence[str] | None = None,
    ) -> httpx.Response:
        """An open SSE response (its frames not read yet); the caller closes it."""
        params = _params(
            after=after,
            session_id=session_id,
            run_id=run_id,
            parent_run_id=parent_run_id,
            types=types,
        )
        timeout = httpx.Timeout(10.0, read=self.read_timeout_s)
        request = self._c.http.build_request(
            "GET",
            f"{self._c.store_path()}/events",
            params=params,
            headers={"Accept": "text/event-stream"},
            timeout=timeout,
        )
        try:
            response = self._c.http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise TransportFailed(f"event stream: {exc!r}") from exc
        if response.status_code >= 400:
            response.read()
            response.close()
            raise error_from_response(response)
        return response

    def stream(
        self,
        *,
        after: int | None = None,
        session_id: str | None = None,
        run_id: str | None = None,
        parent_run_id: str | None = None,
        types: Sequence[str] | None = None,
        opened: httpx.Response | None = None,
    ) -> Iterator[Event]:
        """The events after ``after`` (None: from the store's first), then live ones, for as
        long as the caller reads. A dropped connection is reopened after the last seq seen:
        every stored event comes once, in order (token deltas sent while it was down are lost;
        each step's ``llm.response_received`` has its whole text)."""
        filters: dict[str, Any] = {
            "session_id": session_id,
            "run_id": run_id,
            "parent_run_id": parent_run_id,
            "types": types,
        }
        cursor = after
        failures = 0
        while True:
            try:
                response = opened or self.open(after=cursor, **filters)
                opened = None
                try:
                    parser = FrameParser()
                    for line in response.iter_lines():
                        frame = parser.feed(line)
                        if frame is None:
                            continue
                        if frame.event == "stream.closed":
                            raise stream_closed(frame.data)
                        event = parse_event(frame.data)
                        failures = 0
                        if event.seq is not None:
                            if cursor is not None and event.seq <= cursor:
                                continue
                            cursor = event.seq
                        yield event
                finally:
                    response.close()
            except (httpx.TransportError, TransportFailed, ServerError) as exc:
                failures += 1
                if failures > self.max_failures:
                    if isinstance(exc, ClientError):
                        raise
                    raise TransportFailed(f"event stream: {exc!r}") from exc
            time.sleep(min(self.reconnect_delay_s * 2 ** max(failures - 1, 0), 5.0))

    def run_events(
        self,
        run_id: str,
        after: int | None,
        session_id: str | None = None,
        opened: httpx.Response | None = None,
    ) -> Iterator[Event]:
        """A run's events from ``after`` until (and with) its ``run.completed``, ``run.failed``
        or ``run.cancelled``."""
        filters = {"session_id": session_id} if session_id else {"run_id": run_id}
        for event in self.stream(after=after, opened=opened, **filters):
            if event.run_id != run_id:
                continue
            yield event
            if event.type in RUN_ENDS:
                return


class Projects(_Resource):
    def create(self, name: str, *, description: str | None = None) -> Project:
        body = {"name": name, **_params(description=description)}
        return self._c.call(Project, "POST", f"{self._c.store_path()}/projects", json=body)

    def list(
        self, *, q: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[Project]:
        params = _params(q=q, limit=limit, cursor=cursor)
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


class Tasks(_Resource):
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
        params = _params(project_id=project_id, status=status, q=q, limit=limit, cursor=cursor)
        return self._c.call(Page[Task], "GET", f"{self._c.store_path()}/tasks", params=params)

    def get(self, task_id: str) -> Task:
        return self._c.call(Task, "GET", f"{self._c.store_path()}/tasks/{task_id}")

    def update(self, task_id: str, **fields: Unpack[TaskFields]) -> Task:
        path = f"{self._c.store_path()}/tasks/{task_id}"
        return self._c.call(Task, "PATCH", path, json=fields)

    def delete(self, task_id: str) -> None:
        self._c.request("DELETE", f"{self._c.store_path()}/tasks/{task_id}")


class Documents(_Resource):
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
        params = _params(project_id=project_id, q=q, limit=limit, cursor=cursor)
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


class Tools(_Resource):
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


class McpServers(_Resource):
    def create(
        self, name: str, transport: str, url: str, *, headers: dict[str, str] | None = None
    ) -> McpServer:
        body = {"name": name, "transport": transport, "url": url, **_params(headers=headers)}
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


class ToolCalls(_Resource):
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
        params = _params(
            run_id=run_id, agent_id=agent_id, tool=tool, outcome=outcome, limit=limit, cursor=cursor
        )
        path = f"{self._c.store_path()}/tool-calls"
        return self._c.call(Page[ToolCall], "GET", path, params=params)


class Usage(_Resource):
    def get(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        bucket: Literal["hour", "day"] | None = None,
        group_by: Literal["agent", "model"] | None = None,
    ) -> UsageReport:
        params = _params(since=since, until=until, bucket=bucket, group_by=group_by)
        path = f"{self._c.store_path()}/usage"
        return self._c.call(UsageReport, "GET", path, params=params)
