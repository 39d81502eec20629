"""What the built-in tools need of a store's workspace, as a ``Protocol`` the runtime implements.

A ``WorkspacePort`` is one caller's view of one store inside the caller's transaction: every
change it makes appends its domain event (``task.created``, ...) attributed to that caller, and
commits, or not, with the caller's own records (a run's ``tool_calls`` row). The tools layer
knows no database: it reads the records below through their fields alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True)
class ToolContext:
    """Who is calling: the store acted in, and the run, session and agent to attribute it to."""

    store_id: str
    run_id: str | None
    session_id: str | None
    agent_id: str | None


class Project(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


class Task(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def project_id(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


class Document(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def project_id(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


class Memory(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def importance(self) -> float: ...


@dataclass(frozen=True)
class Recalled:
    """A memory found by ``recall``, with its score (see ``runtime/memory``)."""

    id: str
    content: str
    type: str
    importance: float
    score: float


class Listing(Protocol[T_co]):
    """One page, newest first; ``next_cursor`` is None on the last."""

    @property
    def items(self) -> Sequence[T_co]: ...
    @property
    def next_cursor(self) -> str | None: ...


class WorkspacePort(Protocol):
    """Projects, tasks and documents of the caller's store. A missing object raises
    ``NotFound``, a taken project name ``Conflict``; ``changes`` name only fields to set."""

    def atomic(self, *, read_only: bool = False) -> AbstractAsyncContextManager[None]:
        """A block whose failure takes back every change and event made inside it, and leaves
        the transaction usable; ``read_only``, a block that makes none."""
        ...

    async def find_project(self, ref: str) -> Project | None:
        """By id, else by name ignoring case."""
        ...

    async def get_project(self, project_id: str) -> Project: ...
    async def create_project(self, *, name: str, description: str) -> Project: ...
    async def update_project(self, project_id: str, changes: Mapping[str, Any]) -> Project: ...
    async def list_projects(self, *, q: str | None = None, limit: int) -> Listing[Project]: ...

    async def get_task(self, task_id: str) -> Task: ...
    async def create_task(
        self, *, title: str, description: str, status: str, project_id: str | None
    ) -> Task: ...
    async def update_task(self, task_id: str, changes: Mapping[str, Any]) -> Task: ...
    async def list_tasks(
        self,
        *,
        project_id: str | None = None,
        status: str | None = None,
        q: str | None = None,
        limit: int,
    ) -> Listing[Task]: ...

    async def get_document(self, document_id: str) -> Document: ...
    async def create_document(
        self, *, title: str, content: str, project_id: str | None
    ) -> Document: ...
    async def update_document(self, document_id: str, changes: Mapping[str, Any]) -> Document: ...
    async def list_documents(
        self, *, project_id: str | None = None, q: str | None = None, limit: int
    ) -> Listing[Document]: ...

    async def remember(self, *, content: str, type: str, importance: float) -> tuple[Memory, bool]:
        """The calling agent's memory of ``content``, and whether it is new (an identical one,
        ignoring case, is returned instead of a second)."""
        ...

    async def recall(self, *, query: str, limit: int) -> Sequence[Recalled]:
        """The calling agent's memories (its own and the store's shared ones) for ``query``."""
        ...
