"""The asynchronous client's agents, sessions (messages, sending), runs and plans.
``_sync_conversations.py`` is generated from this file by ``scripts/unasync_client.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, Unpack, overload

from loopwright.client._async_base import AsyncConnection, AsyncResource, query
from loopwright.client._async_events import AsyncEvents
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


class AsyncAgents(AsyncResource):
    async def create(self, **fields: Unpack[NewAgent]) -> Agent:
        return await self._c.call(
            Agent, "POST", f"{await self._c.store_path()}/agents", json=fields
        )

    async def list(
        self,
        *,
        q: str | None = None,
        status: str | None = None,
        mode: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Agent]:
        params = query(q=q, status=status, mode=mode, limit=limit, cursor=cursor)
        return await self._c.call(
            Page[Agent], "GET", f"{await self._c.store_path()}/agents", params=params
        )

    async def get(self, agent_id: str) -> Agent:
        return await self._c.call(Agent, "GET", f"{await self._c.store_path()}/agents/{agent_id}")

    async def find(self, name_or_id: str) -> Agent | None:
        """The agent with this exact name (or id), or None."""
        async for agent in self._c.paginate(self.list, q=name_or_id, limit=200):
            if agent.name == name_or_id:
                return agent
        try:
            return await self.get(name_or_id)
        except (NotFound, ValidationFailed):
            return None

    async def update(self, agent_id: str, **fields: Unpack[AgentFields]) -> Agent:
        path = f"{await self._c.store_path()}/agents/{agent_id}"
        return await self._c.call(Agent, "PATCH", path, json=fields)

    async def delete(self, agent_id: str) -> None:
        await self._c.request("DELETE", f"{await self._c.store_path()}/agents/{agent_id}")


class AsyncSessions(AsyncResource):
    def __init__(self, connection: AsyncConnection, events: AsyncEvents) -> None:
        super().__init__(connection)
        self._events = events

    async def create(
        self, agent_id: str, *, title: str | None = None, busy_policy: BusyPolicy | None = None
    ) -> Session:
        body = {"agent_id": agent_id, **query(title=title, busy_policy=busy_policy)}
        return await self._c.call(
            Session, "POST", f"{await self._c.store_path()}/sessions", json=body
        )

    async def list(
        self,
        *,
        agent_id: str | None = None,
        child: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Session]:
        params = query(agent_id=agent_id, child=child, limit=limit, cursor=cursor)
        return await self._c.call(
            Page[Session], "GET", f"{await self._c.store_path()}/sessions", params=params
        )

    async def get(self, session_id: str) -> Session:
        path = f"{await self._c.store_path()}/sessions/{session_id}"
        return await self._c.call(Session, "GET", path)

    async def update(
        self, session_id: str, *, title: str | None = None, busy_policy: BusyPolicy | None = None
    ) -> Session:
        path = f"{await self._c.store_path()}/sessions/{session_id}"
        body = query(title=title, busy_policy=busy_policy)
        return await self._c.call(Session, "PATCH", path, json=body)

    async def delete(self, session_id: str) -> None:
        await self._c.request("DELETE", f"{await self._c.store_path()}/sessions/{session_id}")

    async def messages(
        self,
        session_id: str,
        *,
        order: Literal["oldest", "newest"] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Message]:
        path = f"{await self._c.store_path()}/sessions/{session_id}/messages"
        params = query(order=order, limit=limit, cursor=cursor)
        return await self._c.call(Page[Message], "GET", path, params=params)

    @overload
    async def send(
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
    async def send(
        self,
        session_id: str,
        content: str,
        *,
        priority: Priority | None = None,
        wait: bool = False,
        wait_timeout_s: float | None = None,
        callback_url: str | None = None,
        stream: Literal[True],
    ) -> AsyncIterator[Event]: ...

    async def send(
        self,
        session_id: str,
        content: str,
        *,
        priority: Priority | None = None,
        wait: bool = False,
        wait_timeout_s: float | None = None,
        callback_url: str | None = None,
        stream: bool = False,
    ) -> SentMessage | AsyncIterator[Event]:
        """Send a message: its run is queued (``wait``: answered once it ended). ``stream``:
        the run's events (token deltas included) until it ends, resuming after a dropped
        connection; the stream opens before the message is sent, so none is missed.
        ``callback_url``: the run's outcome is POSTed there, signed, when it ends."""
        path = f"{await self._c.store_path()}/sessions/{session_id}/messages"
        body = {"content": content, **query(priority=priority, callback_url=callback_url)}
        if wait:
            if stream:
                raise ValueError("stream=True and wait=True exclude each other")
            body["wait"] = True
            if wait_timeout_s is not None:
                body["wait_timeout_s"] = wait_timeout_s
            timeout = (wait_timeout_s or 300.0) + 30.0
            return await self._c.call(SentMessage, "POST", path, json=body, timeout_s=timeout)
        if not stream:
            return await self._c.call(SentMessage, "POST", path, json=body)
        events = self._events
        head = await events.head(session_id=session_id)
        opened = await events.open(after=head, session_id=session_id)
        try:
            sent = await self._c.call(SentMessage, "POST", path, json=body)
        except BaseException:
            await opened.aclose()
            raise
        return events.run_events(sent.run.id, head, session_id, opened)


class AsyncRuns(AsyncResource):
    async def list(
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
        return await self._c.call(
            Page[Run], "GET", f"{await self._c.store_path()}/runs", params=params
        )

    async def get(self, run_id: str) -> Run:
        return await self._c.call(Run, "GET", f"{await self._c.store_path()}/runs/{run_id}")

    async def steps(self, run_id: str) -> Page[Step]:
        path = f"{await self._c.store_path()}/runs/{run_id}/steps"
        return await self._c.call(Page[Step], "GET", path)

    async def cancel(self, run_id: str) -> Run:
        path = f"{await self._c.store_path()}/runs/{run_id}/cancel"
        return await self._c.call(Run, "POST", path)

    async def wait(self, run_id: str, timeout_s: float | None = None) -> Run:
        """The run once it ended, or as it is after ``timeout_s`` (the server's default)."""
        path = f"{await self._c.store_path()}/runs/{run_id}/wait"
        return await self._c.call(
            Run,
            "POST",
            path,
            params=query(timeout_s=timeout_s),
            timeout_s=(timeout_s or 300.0) + 30.0,
        )


class AsyncPlans(AsyncResource):
    async def list(
        self, *, run_id: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[PlanSummary]:
        params = query(run_id=run_id, limit=limit, cursor=cursor)
        path = f"{await self._c.store_path()}/plans"
        return await self._c.call(Page[PlanSummary], "GET", path, params=params)

    async def get(self, plan_id: str) -> Plan:
        return await self._c.call(Plan, "GET", f"{await self._c.store_path()}/plans/{plan_id}")
