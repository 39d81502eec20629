"""The built-in workspace tools: their contracts, and their handlers on a real database.

Handlers run inside ``db.write()`` exactly as the runtime calls them: the test owns the
transaction, the handler only acts in it, through the runtime's ``SessionWorkspace``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from loopwright.db.database import Database
from loopwright.db.migrate import upgrade
from loopwright.db.repos import tenancy, workspace
from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import DocumentRow, ProjectRow, TaskRow
from loopwright.domain.events import Event, EventFilter
from loopwright.errors import Conflict, NotFound
from loopwright.events import log
from loopwright.runtime import workspace as changes
from loopwright.runtime.workspace import SessionWorkspace
from loopwright.tools.builtin import BUILTIN_TOOLS
from loopwright.tools.builtin_handlers import HANDLERS
from loopwright.tools.spec import ToolArgumentsInvalid
from loopwright.tools.workspace_port import ToolContext, WorkspacePort

READ_ONLY = {
    "list_projects",
    "read_project",
    "search_projects",
    "recall",
    "list_tasks",
    "read_task",
    "search_tasks",
    "list_documents",
    "read_document",
    "search_documents",
}


@pytest.fixture(scope="module")
async def db(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    path: Path = tmp_path_factory.mktemp("tools") / "app.db"
    url = f"sqlite:///{path}"
    await asyncio.to_thread(upgrade, url)
    database = Database(url)
    yield database
    await database.dispose()


@pytest.fixture
async def ctx(db: Database) -> ToolContext:
    """A fresh store per test, and a run acting in it."""
    store_id = f"tools-{uuid.uuid4().hex[:10]}"
    async with db.write(ALL_STORES) as session:
        await tenancy.create_store(session, store_id, store_id)
    return ToolContext(store_id=store_id, run_id="run_1", session_id="ses_1", agent_id="agt_1")


async def call(db: Database, ctx: ToolContext, tool: str, **arguments: Any) -> dict[str, Any]:
    """Validate the arguments as the runtime does, run the handler in one transaction."""
    args = BUILTIN_TOOLS[tool].validate(arguments)
    async with db.write(ALL_STORES) as session:
        result: dict[str, Any] = await HANDLERS[tool](SessionWorkspace(session, ctx), args)
    assert json.loads(json.dumps(result)) == result  # what the model gets is plain JSON
    return result


async def events(db: Database, store_id: str) -> list[Event]:
    async with db.read(ALL_STORES) as session:
        upto = await log.high_water(session, store_id)
        return await log.read_range(session, store_id, 0, upto, EventFilter(), 1000)


async def count(db: Database, model: type[Any], store_id: str) -> int:
    async with db.read(ALL_STORES) as session:
        found = await session.scalar(
            select(func.count()).select_from(model).where(model.store_id == store_id)
        )
    return int(found or 0)


# -- contracts ----------------------------------------------------------------------------------


def test_every_tool_has_a_handler_and_a_valid_schema() -> None:
    assert set(HANDLERS) == set(BUILTIN_TOOLS)
    assert len(BUILTIN_TOOLS) == 17
    for name, spec in BUILTIN_TOOLS.items():
        assert spec.name == name
        schema = spec.parameters()
        Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False
        for field, prop in schema["properties"].items():
            assert prop.get("description"), f"{name}.{field} has no description"
        assert spec.read_only is (name in READ_ONLY), name
        assert len(spec.description) > 20


def test_schemas_say_what_the_model_may_send() -> None:
    create_task = BUILTIN_TOOLS["create_task"].parameters()
    assert create_task["required"] == ["title"]
    status = create_task["properties"]["status"]
    assert status["enum"] == ["todo", "in_progress", "done"]
    assert status["default"] == "todo"
    assert BUILTIN_TOOLS["list_tasks"].parameters()["properties"]["limit"]["maximum"] == 200
    assert BUILTIN_TOOLS["search_documents"].parameters()["required"] == ["query"]


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        ("create_task", {"title": "x", "status": "blocked"}, "status"),
        ("create_task", {"title": "   "}, "title"),
        ("create_task", {"title": "x", "priority": "high"}, "priority"),
        ("create_project", {"name": "n" * 201}, "name"),
        ("list_tasks", {"limit": 0}, "limit"),
        ("list_documents", {"limit": 201}, "limit"),
        ("search_tasks", {"query": ""}, "query"),
        ("read_task", {}, "task_id"),
    ],
)
def test_bad_arguments_are_refused(tool: str, arguments: dict[str, Any], field: str) -> None:
    with pytest.raises(ToolArgumentsInvalid) as caught:
        BUILTIN_TOOLS[tool].validate(arguments)
    assert any(field in problem["loc"] for problem in caught.value.problems)


@pytest.mark.parametrize(
    ("tool", "ident"),
    [
        ("update_project", "project_id"),
        ("update_task", "task_id"),
        ("update_document", "document_id"),
    ],
)
def test_an_update_must_change_something(tool: str, ident: str) -> None:
    with pytest.raises(ToolArgumentsInvalid) as caught:
        BUILTIN_TOOLS[tool].validate({ident: "x"})
    assert "at least one" in caught.value.problems[0]["message"]


async def test_a_handler_refuses_another_tools_arguments(db: Database, ctx: ToolContext) -> None:
    wrong = BUILTIN_TOOLS["read_task"].validate({"task_id": "tsk_x"})
    async with db.write(ALL_STORES) as session:
        with pytest.raises(TypeError):
            await HANDLERS["read_document"](session, ctx, wrong)


# -- projects -----------------------------------------------------------------------------------


async def test_create_update_read_project_with_events(db: Database, ctx: ToolContext) -> None:
    made = await call(db, ctx, "create_project", name="  Launch  ", description="Q3 launch")
    project = made["project"]
    assert project["name"] == "Launch"  # trimmed
    assert project["id"].startswith("prj_")
    assert await count(db, ProjectRow, ctx.store_id) == 1

    updated = await call(db, ctx, "update_project", project_id=project["id"], description="Q4")
    assert updated["project"]["description"] == "Q4"
    assert updated["project"]["name"] == "Launch"
    read = await call(db, ctx, "read_project", project_id=project["id"])
    assert read["project"]["description"] == "Q4"
    assert read["tasks"] == [] and read["documents"] == []

    logged = await events(db, ctx.store_id)
    assert [e.type for e in logged] == ["project.created", "project.updated"]
    assert all(e.run_id == "run_1" and e.session_id == "ses_1" for e in logged)
    assert logged[0].payload == {
        "project_id": project["id"],
        "name": "Launch",
        "description": "Q3 launch",
    }
    assert logged[1].payload["fields"] == ["description"]
    assert logged[1].payload["description"] == "Q4"


async def test_project_names_are_unique_ignoring_case(db: Database, ctx: ToolContext) -> None:
    await call(db, ctx, "create_project", name="Alpha")
    beta = (await call(db, ctx, "create_project", name="Beta"))["project"]
    with pytest.raises(Conflict):
        await call(db, ctx, "create_project", name="ALPHA")
    with pytest.raises(Conflict):
        await call(db, ctx, "update_project", project_id=beta["id"], name="alpha")
    renamed = await call(db, ctx, "update_project", project_id=beta["id"], name="BETA")
    assert renamed["project"]["name"] == "BETA"  # its own name in another case is fine
    assert await count(db, ProjectRow, ctx.store_id) == 2


async def test_a_lost_name_race_leaves_the_transaction_usable(
    db: Database, ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If another writer took the name after our check, the unique index answers Conflict and
    the caller's transaction carries on (it still has to record the tool call)."""
    await call(db, ctx, "create_project", name="Taken")

    async def not_seen(*_: object) -> None:
        return None

    monkeypatch.setattr(workspace, "find_project_by_name", not_seen)
    async with db.write(ALL_STORES) as session:
        with pytest.raises(Conflict):
            await workspace.create_project(session, ctx.store_id, name="Taken")
        await workspace.create_task(session, ctx.store_id, title="still saved")
    assert await count(db, ProjectRow, ctx.store_id) == 1
    assert await count(db, TaskRow, ctx.store_id) == 1


async def test_list_and_search_projects(db: Database, ctx: ToolContext) -> None:
    for name, about in [
        ("Website", "marketing site"),
        ("Mobile", "iOS app"),
        ("Docs", "SITE docs"),
    ]:
        await call(db, ctx, "create_project", name=name, description=about)
    listed = await call(db, ctx, "list_projects", limit=2)
    assert [p["name"] for p in listed["projects"]] == ["Docs", "Mobile"]  # newest first
    assert listed["count"] == 2 and listed["has_more"] is True
    found = await call(db, ctx, "search_projects", query="site")
    assert sorted(p["name"] for p in found["projects"]) == ["Docs", "Website"]
    assert found["has_more"] is False


# -- tasks --------------------------------------------------------------------------------------


async def test_create_task_with_a_new_project_name_creates_it(
    db: Database, ctx: ToolContext
) -> None:
    first = await call(db, ctx, "create_task", title="Write copy", project="Launch")
    assert first["project_created"] is True
    assert first["project"]["name"] == "Launch"
    assert first["task"]["project_id"] == first["project"]["id"]
    assert first["task"]["status"] == "todo"

    second = await call(db, ctx, "create_task", title="Book venue", project="launch")
    assert second["project_created"] is False
    assert second["project"]["id"] == first["project"]["id"]
    by_id = await call(db, ctx, "create_task", title="Invite", project=first["project"]["id"])
    assert by_id["project"]["id"] == first["project"]["id"]
    assert await count(db, ProjectRow, ctx.store_id) == 1
    assert await count(db, TaskRow, ctx.store_id) == 3

    logged = await events(db, ctx.store_id)
    assert [e.type for e in logged] == [
        "project.created",
        "task.created",
        "task.created",
        "task.created",
    ]
    assert all(e.run_id == "run_1" for e in logged)
    assert logged[1].payload["task_id"] == first["task"]["id"]
    assert logged[1].payload["project_id"] == first["project"]["id"]
    assert logged[1].payload["title"] == "Write copy"


async def test_create_task_with_an_unknown_project_id_is_not_found(
    db: Database, ctx: ToolContext
) -> None:
    """Something shaped like a project id is never taken for a new project's name."""
    with pytest.raises(NotFound):
        await call(db, ctx, "create_task", title="x", project="prj_0123456789abcdef01234567")
    assert await count(db, ProjectRow, ctx.store_id) == 0
    assert await count(db, TaskRow, ctx.store_id) == 0
    assert await events(db, ctx.store_id) == []


async def test_update_list_read_search_tasks(db: Database, ctx: ToolContext) -> None:
    a = (await call(db, ctx, "create_task", title="Fix login bug", project="Web"))["task"]
    await call(db, ctx, "create_task", title="Ship release", description="after the LOGIN fix")
    c = (await call(db, ctx, "create_task", title="Polish CSS", project="Web"))["task"]

    done = await call(db, ctx, "update_task", task_id=a["id"], status="done")
    assert done["task"]["status"] == "done"
    assert done["task"]["title"] == "Fix login bug"

    web = await call(db, ctx, "list_tasks", project="web")
    assert [t["id"] for t in web["tasks"]] == [c["id"], a["id"]]
    open_web = await call(db, ctx, "list_tasks", project="Web", status="todo")
    assert [t["id"] for t in open_web["tasks"]] == [c["id"]]
    everything = await call(db, ctx, "list_tasks")
    assert everything["count"] == 3

    found = await call(db, ctx, "search_tasks", query="login")
    assert sorted(t["title"] for t in found["tasks"]) == ["Fix login bug", "Ship release"]

    read = await call(db, ctx, "read_task", task_id=a["id"])
    assert read["task"]["status"] == "done"
    assert read["project"]["name"] == "Web"
    project = await call(db, ctx, "read_project", project_id=read["project"]["id"])
    assert {t["id"] for t in project["tasks"]} == {a["id"], c["id"]}

    updates = [e for e in await events(db, ctx.store_id) if e.type == "task.updated"]
    assert len(updates) == 1
    assert updates[0].payload["fields"] == ["status"]
    assert updates[0].payload["status"] == "done"
    assert updates[0].run_id == "run_1"


async def test_an_update_that_changes_nothing_appends_no_event(
    db: Database, ctx: ToolContext
) -> None:
    task = (await call(db, ctx, "create_task", title="Same"))["task"]
    await call(db, ctx, "update_task", task_id=task["id"], title="Same", status="todo")
    assert [e.type for e in await events(db, ctx.store_id)] == ["task.created"]


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("read_task", {"task_id": "tsk_missing"}),
        ("update_task", {"task_id": "tsk_missing", "status": "done"}),
        ("read_project", {"project_id": "prj_missing"}),
        ("update_project", {"project_id": "prj_missing", "name": "x"}),
        ("read_document", {"document_id": "doc_missing"}),
        ("update_document", {"document_id": "doc_missing", "title": "x"}),
        ("list_tasks", {"project": "No such project"}),
        ("list_documents", {"project": "No such project"}),
    ],
)
async def test_missing_objects_are_not_found(
    db: Database, ctx: ToolContext, tool: str, arguments: dict[str, Any]
) -> None:
    with pytest.raises(NotFound):
        await call(db, ctx, tool, **arguments)
    assert await count(db, ProjectRow, ctx.store_id) == 0  # list_* never creates a project


async def test_tools_cannot_reach_another_store(db: Database, ctx: ToolContext) -> None:
    task = (await call(db, ctx, "create_task", title="Secret", project="Hidden"))["task"]
    doc = await call(db, ctx, "create_document", title="Secret doc", content="classified")
    other_id = f"other-{uuid.uuid4().hex[:10]}"
    async with db.write(ALL_STORES) as session:
        await tenancy.create_store(session, other_id, other_id)
    other = ToolContext(store_id=other_id, run_id=None, session_id=None, agent_id=None)
    with pytest.raises(NotFound):
        await call(db, other, "read_task", task_id=task["id"])
    with pytest.raises(NotFound):
        await call(db, other, "update_task", task_id=task["id"], status="done")
    with pytest.raises(NotFound):
        await call(db, other, "read_document", document_id=doc["document"]["id"])
    with pytest.raises(NotFound):
        await call(db, other, "create_task", title="x", project=task["project_id"])
    assert (await call(db, other, "search_tasks", query="Secret"))["tasks"] == []
    assert (await call(db, other, "search_documents", query="classified"))["documents"] == []
    assert (await call(db, other, "list_projects"))["projects"] == []
    # The other store's "Hidden" is a new project there, not the first store's.
    made = await call(db, other, "create_task", title="x", project="Hidden")
    assert made["project_created"] is True
    assert made["project"]["id"] != task["project_id"]


# -- documents ----------------------------------------------------------------------------------


async def test_documents_excerpts_full_reads_and_search(db: Database, ctx: ToolContext) -> None:
    long_text = "Intro. " + "filler " * 100 + "The launch date is MARCH 3rd. " + "tail " * 100
    made = await call(db, ctx, "create_document", title="Plan", content=long_text, project="Q1")
    doc = made["document"]
    assert made["project_created"] is True
    assert doc["chars"] == len(long_text)
    assert "content" not in doc  # the model asked to write it; it does not need it echoed
    await call(db, ctx, "create_document", title="Notes", content="short note")

    listed = await call(db, ctx, "list_documents", project="Q1")
    assert [d["id"] for d in listed["documents"]] == [doc["id"]]
    excerpt = listed["documents"][0]["excerpt"]
    assert excerpt.startswith("Intro.") and excerpt.endswith("…")
    assert len(excerpt) <= 201

    found = await call(db, ctx, "search_documents", query="march 3")
    assert [d["id"] for d in found["documents"]] == [doc["id"]]
    assert "MARCH 3rd" in found["documents"][0]["excerpt"]
    assert found["documents"][0]["excerpt"].startswith("…")

    full = await call(db, ctx, "read_document", document_id=doc["id"])
    assert full["document"]["content"] == long_text
    assert full["project"]["name"] == "Q1"

    updated = await call(db, ctx, "update_document", document_id=doc["id"], content="v2")
    assert updated["document"]["chars"] == 2
    assert updated["document"]["title"] == "Plan"
    reread = await call(db, ctx, "read_document", document_id=doc["id"])
    assert reread["document"]["content"] == "v2"

    logged = [e for e in await events(db, ctx.store_id) if e.type.startswith("document.")]
    assert [e.type for e in logged] == ["document.created", "document.created", "document.updated"]
    assert logged[0].payload["content"] == long_text
    assert logged[2].payload["fields"] == ["content"]
    assert all(e.run_id == "run_1" and e.session_id == "ses_1" for e in logged)


async def test_search_treats_wildcards_literally(db: Database, ctx: ToolContext) -> None:
    await call(db, ctx, "create_document", title="Growth", content="grew 50% this year")
    await call(db, ctx, "create_document", title="Flat", content="grew 50 units")
    await call(db, ctx, "create_document", title="snake_case", content="")
    await call(db, ctx, "create_document", title="snakeXcase", content="")
    percent = await call(db, ctx, "search_documents", query="50%")
    assert [d["title"] for d in percent["documents"]] == ["Growth"]
    underscore = await call(db, ctx, "search_documents", query="e_c")
    assert [d["title"] for d in underscore["documents"]] == ["snake_case"]


async def test_search_limit_and_has_more(db: Database, ctx: ToolContext) -> None:
    for i in range(4):
        await call(db, ctx, "create_document", title=f"Report {i}")
    page = await call(db, ctx, "search_documents", query="report", limit=3)
    assert [d["title"] for d in page["documents"]] == ["Report 3", "Report 2", "Report 1"]
    assert page["count"] == 3 and page["has_more"] is True


async def test_read_project_lists_its_tasks_and_documents(db: Database, ctx: ToolContext) -> None:
    task = (await call(db, ctx, "create_task", title="T", project="P"))["task"]
    doc = await call(db, ctx, "create_document", title="D", content="body", project="P")
    await call(db, ctx, "create_task", title="elsewhere")
    read = await call(db, ctx, "read_project", project_id=task["project_id"])
    assert [t["id"] for t in read["tasks"]] == [task["id"]]
    assert [d["id"] for d in read["documents"]] == [doc["document"]["id"]]
    assert read["documents"][0]["excerpt"] == "body"
    assert read["more_tasks"] is False and read["more_documents"] is False
    assert await count(db, DocumentRow, ctx.store_id) == 1


async def test_deleting_a_project_detaches_what_the_session_already_loaded(
    db: Database, ctx: ToolContext
) -> None:
    task = (await call(db, ctx, "create_task", title="T", project="Gone"))["task"]
    async with db.write(ALL_STORES) as session:
        loaded = await workspace.get_task(session, ctx.store_id, task["id"])
        await changes.delete_project(session, ctx.store_id, task["project_id"])
        assert loaded.project_id is None
        read = await HANDLERS["read_task"](
            SessionWorkspace(session, ctx),
            BUILTIN_TOOLS["read_task"].validate({"task_id": task["id"]}),
        )
        assert read["project"] is None
    async with db.read(ALL_STORES) as session:
        assert (await workspace.get_task(session, ctx.store_id, task["id"])).project_id is None
    deleted = [e for e in await events(db, ctx.store_id) if e.type == "project.deleted"]
    assert deleted[0].payload["project_id"] == task["project_id"]
    assert deleted[0].run_id is None  # the change above acted for no run


async def test_a_failed_tool_publishes_none_of_its_events(
    db: Database, ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The savepoint takes back the rows, the seqs and the events of a tool that fails after
    appending: nothing it announced is published, and the next event gets the freed seq."""
    from loopwright.domain.events import NewEvent
    from loopwright.tools.builtin_handlers import invoke

    async def announces_then_fails(port: WorkspacePort, args: Any) -> Any:
        await port.create_task(title="ghost", description="", status="todo", project_id=None)
        raise Conflict("gave up after announcing")

    monkeypatch.setitem(HANDLERS, "list_tasks", announces_then_fails)
    published: list[Event] = []
    db.on_commit(published.extend)
    args = BUILTIN_TOOLS["list_tasks"].validate({})
    async with db.write(ALL_STORES) as session:
        ok, content = await invoke(SessionWorkspace(session, ctx), "list_tasks", args, timeout_s=5)
        kept = await log.append(session, ctx.store_id, [NewEvent("note.added", {})])
    assert (ok, content) == (False, {"error": "gave up after announcing"})
    assert [e.type for e in published if e.store_id == ctx.store_id] == ["note.added"]
    assert [e.seq for e in kept] == [1]
    assert [e.type for e in await events(db, ctx.store_id)] == ["note.added"]
    assert await count(db, TaskRow, ctx.store_id) == 0  # its row went back with its event
