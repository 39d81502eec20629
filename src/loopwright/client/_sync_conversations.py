"""GENERATED from ``_async_conversations.py`` by ``scripts/unasync_client.py``: do not edit; edit
``_async_conversations.py`` and run the script. (The synchronous twin of the async client.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, Unpack, overload

from loopwright.client._sync_base import Connection, Resource, query
from loopwright.client._sync_events import Events
from loopwright.client.errors import NotFound, ValidationFailed
from loopwright.client.events import Event
from loopwright.client.models import (
    Agent,
    AgentFields,
    BusyPolicy,
    Message,
    NewAgent,
    Page,
    Plan,
    PlanSummary,
    Priority,
    Run,
    SentMessage,
    Session,
    Step,
)


class Agents(Resource):
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
        params = query(q=q, status=status, mode=mode, limit=limit, cursor=cursor)
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


class Sessions(Resource):
    def __init__(self, connection: Connection, events: Events) -> None:
        super().__init__(connection)
        self._events = events

    def create(
        self, agent_id: str, *, title: str | None = None, busy_policy: BusyPolicy | None = None
    ) -> Session:
        body = {"agent_id": agent_id, **query(title=title, busy_policy=busy_policy)}
        return self._c.call(Session, "POST", f"{self._c.store_path()}/sessions", json=body)

    def list(
        self,
        *,
        agent_id: str | None = None,
        child: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Session]:
        params = query(agent_id=agent_id, child=child, limit=limit, cursor=cursor)
        return self._c.call(Page[Session], "GET", f"{self._c.store_path()}/sessions", params=params)

    def get(self, session_id: str) -> Session:
        path = f"{self._c.store_path()}/sessions/{session_id}"
        return self._c.call(Session, "GET", path)

    def update(
        self, session_id: str, *, title: str | None = None, busy_policy: BusyPolicy | None = None
    ) -> Session:
        path = f"{self._c.store_path()}/sessions/{session_id}"
        body = query(title=title, busy_policy=busy_policy)
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
        params = query(order=order, limit=limit, cursor=cursor)
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
        callback_url: str | None = None,
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
        callback_url: str | None = None,
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
        callback_url: str | None = None,
        stream: bool = False,
    ) -> SentMessage | Iterator[Event]:
        """Send a message: its run is queued (``wait``: answered once it ended). ``stream``:
        the run's events (token deltas included) until it ends, resuming after a dropped
        connection; the stream opens before the message is sent, so none is missed.
        ``callback_url``: the run's outcome is POSTed there, signed, when it ends."""
        path = f"{self._c.store_path()}/sessions/{session_id}/messages"
        body = {"content": content, **query(priority=priority, callback_url=callback_url)}
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
        events = self._events
        head = events.head(session_id=session_id)
        opened = events.open(after=head, session_id=session_id)
        try:
            sent = self._c.call(SentMessage, "POST", path, json=body)
        except BaseException:
            opened.close()
            raise
        return events.run_events(sent.run.id, head, session_id, opened)


class Runs(Resource):
    def list(
        self,
        *,
        session_id: str | None = None,
        parent_run_id: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Run]:
        params = query(
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
            params=query(timeout_s=timeout_s),
            timeout_s=(timeout_s or 300.0) + 30.0,
        )


class Plans(Resource):
    def list(
        self, *, run_id: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[PlanSummary]:
        params = query(run_id=run_id, limit=limit, cursor=cursor)
        path = f"{self._c.store_path()}/plans"
        return self._c.call(Page[PlanSummary], "GET", path, params=params)

    def get(self, plan_id: str) -> Plan:
        return self._c.call(Plan, "GET", f"{self._c.store_path()}/plans/{plan_id}")
