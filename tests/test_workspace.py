"""Projects, tasks and documents over HTTP: CRUD, filters, search, pagination, validation,
conflicts, roles and the events every change appends."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Live, Store

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL


async def post(store: Store, kind: str, **body: Any) -> dict[str, Any]:
    r = await store.admin.post(f"{store.path}/{kind}", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def items(store: Store, kind: str, **params: Any) -> list[dict[str, Any]]:
    r = await store.admin.get(f"{store.path}/{kind}", params=params)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def events(store: Store, types: str) -> list[dict[str, Any]]:
    r = await store.admin.get(f"{store.path}/events", params={"types": types})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


# -- CRUD ---------------------------------------------------------------------------------------


async def test_project_crud(store: Store) -> None:
    project = await post(store, "projects", name="  Launch ", description="Q3")
    assert project["name"] == "Launch"
    assert project["description"] == "Q3"
    assert project["id"].startswith("prj_")
    url = f"{store.path}/projects/{project['id']}"
    assert (await store.admin.get(url)).json() == project
    r = await store.admin.patch(url, json={"description": "Q4"})
    assert r.status_code == 200
    assert r.json()["description"] == "Q4" and r.json()["name"] == "Launch"
    assert r.json()["updated_at"] >= project["updated_at"]
    assert (await store.admin.get(url)).json()["description"] == "Q4"
    assert (await store.admin.delete(url)).status_code == 204
    r = await store.admin.get(url)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    assert (await store.admin.delete(url)).status_code == 404
    assert (await store.admin.patch(url, json={"name": "x"})).status_code == 404


async def test_task_crud(store: Store) -> None:
    project = await post(store, "projects", name="P")
    task = await post(store, "tasks", title="Write", project_id=project["id"])
    assert task["status"] == "todo" and task["description"] == ""
    assert task["project_id"] == project["id"]
    url = f"{store.path}/tasks/{task['id']}"
    r = await store.admin.patch(url, json={"status": "in_progress", "description": "draft"})
    assert r.status_code == 200
    assert r.json()["status"] == "in_progress" and r.json()["title"] == "Write"
    r = await store.admin.patch(url, json={"project_id": None})  # null detaches
    assert r.status_code == 200 and r.json()["project_id"] is None
    r = await store.admin.patch(url, json={"project_id": project["id"]})
    assert r.json()["project_id"] == project["id"]
    got = (await store.admin.get(url)).json()
    assert got["status"] == "in_progress" and got["description"] == "draft"
    assert (await store.admin.delete(url)).status_code == 204
    assert (await store.admin.get(url)).status_code == 404
    assert (await store.admin.delete(url)).status_code == 404


async def test_document_crud(store: Store) -> None:
    doc = await post(store, "documents", title="Spec", content="# Spec\nbody")
    assert doc["project_id"] is None
    url = f"{store.path}/documents/{doc['id']}"
    assert (await store.admin.get(url)).json()["content"] == "# Spec\nbody"
    r = await store.admin.patch(url, json={"content": "v2"})
    assert r.status_code == 200 and r.json()["content"] == "v2" and r.json()["title"] == "Spec"
    assert (await store.admin.get(url)).json()["content"] == "v2"
    assert (await store.admin.delete(url)).status_code == 204
    assert (await store.admin.get(url)).status_code == 404


async def test_deleting_a_project_keeps_its_tasks_and_documents(store: Store) -> None:
    project = await post(store, "projects", name="Doomed")
    task = await post(store, "tasks", title="t", project_id=project["id"])
    doc = await post(store, "documents", title="d", project_id=project["id"])
    assert (await store.admin.delete(f"{store.path}/projects/{project['id']}")).status_code == 204
    assert (await store.admin.get(f"{store.path}/tasks/{task['id']}")).json()["project_id"] is None
    r = await store.admin.get(f"{store.path}/documents/{doc['id']}")
    assert r.json()["project_id"] is None
    assert await items(store, "tasks", project_id=project["id"]) == []


# -- references, conflicts ----------------------------------------------------------------------


async def test_missing_or_foreign_project_reference_is_404(live: Live, store: Store) -> None:
    other = await live.new_store()
    foreign = await post(other, "projects", name="Theirs")
    own_task = await post(store, "tasks", title="mine")
    own_doc = await post(store, "documents", title="mine")
    for project_id in ("prj_missing", foreign["id"]):
        for kind in ("tasks", "documents"):
            r = await store.admin.post(
                f"{store.path}/{kind}", json={"title": "x", "project_id": project_id}
            )
            assert r.status_code == 404, r.text
            assert r.json()["error"]["details"] == {"kind": "project", "id": project_id}
        r = await store.admin.patch(
            f"{store.path}/tasks/{own_task['id']}", json={"project_id": project_id}
        )
        assert r.status_code == 404
        r = await store.admin.patch(
            f"{store.path}/documents/{own_doc['id']}", json={"project_id": project_id}
        )
        assert r.status_code == 404
    assert len(await items(store, "tasks")) == 1
    assert len(await items(store, "documents")) == 1
    assert (await store.admin.get(f"{store.path}/projects/{foreign['id']}")).status_code == 404
    await other.admin.aclose()


async def test_duplicate_project_name_is_409(store: Store) -> None:
    await post(store, "projects", name="Alpha")
    beta = await post(store, "projects", name="Beta")
    for name in ("Alpha", "alpha", " ALPHA "):
        r = await store.admin.post(f"{store.path}/projects", json={"name": name})
        assert r.status_code == 409, name
        assert r.json()["error"]["code"] == "conflict"
    r = await store.admin.patch(f"{store.path}/projects/{beta['id']}", json={"name": "alpha"})
    assert r.status_code == 409
    r = await store.admin.patch(f"{store.path}/projects/{beta['id']}", json={"name": "beta"})
    assert r.status_code == 200 and r.json()["name"] == "beta"
    assert sorted(p["name"] for p in await items(store, "projects")) == ["Alpha", "beta"]


async def test_same_project_name_in_two_stores_is_fine(live: Live, store: Store) -> None:
    other = await live.new_store()
    await post(store, "projects", name="Twin")
    await post(other, "projects", name="Twin")
    await other.admin.aclose()


# -- lists --------------------------------------------------------------------------------------


async def test_task_filters_and_search(store: Store) -> None:
    web = await post(store, "projects", name="Web")
    app = await post(store, "projects", name="App")
    a = await post(store, "tasks", title="Fix LOGIN", project_id=web["id"], status="done")
    b = await post(store, "tasks", title="Styles", project_id=web["id"])
    c = await post(store, "tasks", title="Release", description="after the login fix")
    d = await post(store, "tasks", title="Crash", project_id=app["id"], status="done")

    def ids(found: list[dict[str, Any]]) -> list[str]:
        return [t["id"] for t in found]

    assert ids(await items(store, "tasks")) == [d["id"], c["id"], b["id"], a["id"]]
    assert ids(await items(store, "tasks", project_id=web["id"])) == [b["id"], a["id"]]
    assert ids(await items(store, "tasks", status="done")) == [d["id"], a["id"]]
    assert ids(await items(store, "tasks", project_id=web["id"], status="done")) == [a["id"]]
    assert ids(await items(store, "tasks", q="login")) == [c["id"], a["id"]]
    assert ids(await items(store, "tasks", q="login", status="todo")) == [c["id"]]
    assert await items(store, "tasks", q="nothing like this") == []
    assert await items(store, "tasks", project_id="prj_missing") == []


async def test_project_and_document_filters_and_search(store: Store) -> None:
    p = await post(store, "projects", name="Website", description="marketing")
    await post(store, "projects", name="Mobile", description="the WEB view")
    assert [x["name"] for x in await items(store, "projects", q="web")] == ["Mobile", "Website"]
    assert [x["name"] for x in await items(store, "projects", q="MARKET")] == ["Website"]

    d1 = await post(
        store, "documents", title="Pricing", content="Plans and tiers", project_id=p["id"]
    )
    d2 = await post(store, "documents", title="Roadmap", content="pricing changes in Q3")
    await post(store, "documents", title="Hiring", content="three roles")
    assert [x["id"] for x in await items(store, "documents", q="PRICING")] == [d2["id"], d1["id"]]
    assert [x["id"] for x in await items(store, "documents", project_id=p["id"])] == [d1["id"]]
    assert [x["id"] for x in await items(store, "documents", project_id=p["id"], q="road")] == []


async def test_search_is_literal_and_case_insensitive_on_both_databases(any_live: Live) -> None:
    store = await any_live.new_store()
    await post(store, "documents", title="Growth", content="Grew 50% this year")
    await post(store, "documents", title="Flat", content="grew 50 units, 100_000 total")
    await post(store, "documents", title="Other", content="grew 5000 units")
    assert [d["title"] for d in await items(store, "documents", q="50%")] == ["Growth"]
    assert [d["title"] for d in await items(store, "documents", q="0_0")] == ["Flat"]
    assert [d["title"] for d in await items(store, "documents", q="GREW 50")] == [
        "Other",
        "Flat",
        "Growth",
    ]
    r = await store.admin.post(f"{store.path}/projects", json={"name": "Ops"})
    assert r.status_code == 201
    assert (
        await store.admin.post(f"{store.path}/projects", json={"name": "OPS"})
    ).status_code == 409
    await store.admin.aclose()


async def test_pagination_newest_first(store: Store) -> None:
    for kind, field in (("projects", "name"), ("tasks", "title"), ("documents", "title")):
        for i in range(5):
            await post(store, kind, **{field: f"{kind}-{i}"})
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            r = await store.admin.get(f"{store.path}/{kind}", params=params)
            page = r.json()
            assert len(page["items"]) <= 2
            seen += [x[field] for x in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [f"{kind}-{i}" for i in range(4, -1, -1)]


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("projects", {}, "name"),
        ("projects", {"name": ""}, "name"),
        ("projects", {"name": "   "}, "name"),
        ("projects", {"name": "n" * 201}, "name"),
        ("projects", {"name": "x", "description": 5}, "description"),
        ("projects", {"name": "x", "owner": "me"}, "owner"),
        ("tasks", {}, "title"),
        ("tasks", {"title": "x", "status": "blocked"}, "status"),
        ("tasks", {"title": "t" * 501}, "title"),
        ("tasks", {"title": "x", "project_id": 7}, "project_id"),
        ("tasks", {"title": "x", "description": "d" * 20_001}, "description"),
        ("documents", {"content": "no title"}, "title"),
        ("documents", {"title": "x", "content": ["a"]}, "content"),
        ("documents", {"title": "x", "status": "done"}, "status"),
    ],
)
async def test_invalid_bodies_are_422(
    store: Store, kind: str, body: dict[str, Any], field: str
) -> None:
    r = await store.admin.post(f"{store.path}/{kind}", json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    assert any(field in [str(x) for x in d["loc"]] for d in error["details"])
    assert await items(store, kind) == []


@pytest.mark.parametrize(
    ("kind", "create", "patch"),
    [
        ("projects", {"name": "p"}, {"name": None}),
        ("projects", {"name": "p"}, {"description": None}),
        ("tasks", {"title": "t"}, {"title": None}),
        ("tasks", {"title": "t"}, {"status": None}),
        ("tasks", {"title": "t"}, {"status": "later"}),
        ("documents", {"title": "d"}, {"content": None}),
        ("documents", {"title": "d"}, {"title": ""}),
    ],
)
async def test_invalid_patches_are_422(
    store: Store, kind: str, create: dict[str, Any], patch: dict[str, Any]
) -> None:
    made = await post(store, kind, **create)
    r = await store.admin.patch(f"{store.path}/{kind}/{made['id']}", json=patch)
    assert r.status_code == 422, r.text
    assert (await store.admin.get(f"{store.path}/{kind}/{made['id']}")).json() == made


async def test_invalid_list_filters_are_422(store: Store) -> None:
    r = await store.admin.get(f"{store.path}/tasks", params={"status": "later"})
    assert r.status_code == 422
    r = await store.admin.get(f"{store.path}/documents", params={"limit": 0})
    assert r.status_code == 422
    r = await store.admin.get(f"{store.path}/projects", params={"q": "x" * 201})
    assert r.status_code == 422


# -- roles --------------------------------------------------------------------------------------


async def test_readers_read_and_members_write(live: Live, store: Store) -> None:
    project = await post(store, "projects", name="P")
    reader = live.client(await store.key("readonly"))
    member = live.client(await store.key("member"))
    try:
        assert (await reader.get(f"{store.path}/projects")).status_code == 200
        assert (await reader.get(f"{store.path}/projects/{project['id']}")).status_code == 200
        r = await reader.post(f"{store.path}/tasks", json={"title": "x"})
        assert r.status_code == 403
        r = await reader.delete(f"{store.path}/projects/{project['id']}")
        assert r.status_code == 403
        r = await member.post(f"{store.path}/tasks", json={"title": "x"})
        assert r.status_code == 201
        r = await member.patch(f"{store.path}/projects/{project['id']}", json={"name": "Q"})
        assert r.status_code == 200
        assert (await member.delete(f"{store.path}/tasks/{r.json()['id']}")).status_code == 404
    finally:
        await reader.aclose()
        await member.aclose()
    assert [t["title"] for t in await items(store, "tasks")] == ["x"]


# -- events -------------------------------------------------------------------------------------


async def test_every_change_appends_its_event(store: Store) -> None:
    project = await post(store, "projects", name="P", description="about")
    task = await post(store, "tasks", title="T", project_id=project["id"])
    doc = await post(store, "documents", title="D", content="text", project_id=project["id"])
    await store.admin.patch(f"{store.path}/tasks/{task['id']}", json={"status": "done"})
    await store.admin.patch(f"{store.path}/projects/{project['id']}", json={"name": "P2"})
    await store.admin.patch(f"{store.path}/documents/{doc['id']}", json={"title": "D2"})
    await store.admin.delete(f"{store.path}/tasks/{task['id']}")
    await store.admin.delete(f"{store.path}/documents/{doc['id']}")
    await store.admin.delete(f"{store.path}/projects/{project['id']}")

    created = await events(store, "task.created")
    assert len(created) == 1
    assert created[0]["payload"] == {
        "task_id": task["id"],
        "project_id": project["id"],
        "title": "T",
        "description": "",
        "status": "todo",
    }
    assert created[0]["session_id"] is None and created[0]["run_id"] is None

    all_types = ",".join(
        f"{kind}.{verb}"
        for kind in ("project", "task", "document")
        for verb in ("created", "updated", "deleted")
    )
    logged = await events(store, all_types)
    assert [e["type"] for e in logged] == [
        "project.created",
        "task.created",
        "document.created",
        "task.updated",
        "project.updated",
        "document.updated",
        "task.deleted",
        "document.deleted",
        "project.deleted",
    ]
    by_type = {e["type"]: e["payload"] for e in logged}
    assert by_type["project.created"] == {
        "project_id": project["id"],
        "name": "P",
        "description": "about",
    }
    assert by_type["document.created"]["content"] == "text"
    assert by_type["task.updated"]["fields"] == ["status"]
    assert by_type["task.updated"]["status"] == "done"
    assert by_type["project.updated"]["fields"] == ["name"]
    assert by_type["project.updated"]["name"] == "P2"
    assert by_type["document.updated"]["title"] == "D2"
    assert by_type["task.deleted"]["task_id"] == task["id"]
    assert by_type["document.deleted"]["document_id"] == doc["id"]
    assert by_type["project.deleted"] == {
        "project_id": project["id"],
        "name": "P2",
        "description": "about",
    }


async def test_failed_and_empty_changes_append_nothing(store: Store) -> None:
    project = await post(store, "projects", name="P")
    r = await store.admin.post(f"{store.path}/projects", json={"name": "P"})
    assert r.status_code == 409
    r = await store.admin.post(
        f"{store.path}/tasks", json={"title": "x", "project_id": "prj_missing"}
    )
    assert r.status_code == 404
    r = await store.admin.patch(f"{store.path}/projects/{project['id']}", json={})
    assert r.status_code == 200 and r.json() == project
    r = await store.admin.patch(f"{store.path}/projects/{project['id']}", json={"name": "P"})
    assert r.status_code == 200
    logged = await events(store, "project.created,project.updated,task.created")
    assert [e["type"] for e in logged] == ["project.created"]
