"""Stores, API keys, authentication and roles."""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import Live, Store

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL


async def test_operator_creates_store_and_admin_issues_keys(live: Live) -> None:
    store = await live.new_store()
    r = await store.admin.get(store.path)
    assert r.status_code == 200
    assert r.json()["id"] == store.id
    member = await store.key("member")
    r = await store.admin.get(f"{store.path}/keys")
    roles = sorted(k["role"] for k in r.json()["items"])
    assert roles == ["admin", "member"]
    assert all("key" not in k for k in r.json()["items"])
    async with live.client(member) as client:
        assert (await client.get(f"{store.path}/agents")).status_code == 200


async def test_duplicate_store_is_409_and_bad_slug_422(live: Live) -> None:
    store = await live.new_store()
    r = await live.http.post("/v1/stores", json={"id": store.id})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "conflict"
    r = await live.http.post("/v1/stores", json={"id": "Not A Slug!"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_error"


async def test_store_creation_needs_operator_key(store: Store) -> None:
    r = await store.admin.post("/v1/stores", json={"id": "sneaky"})
    assert r.status_code == 403


async def test_the_operator_lists_every_store_by_id_and_a_store_key_may_not(live: Live) -> None:
    made = sorted([(await live.new_store("list")).id for _ in range(3)])
    seen: list[str] = []
    cursor = None
    while True:  # two at a time: the cursor walks every store once
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await live.http.get("/v1/stores", params=params)).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert set(made) <= set(seen)
    store = await live.new_store()
    r = await store.admin.get("/v1/stores")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"


async def test_missing_and_wrong_keys_are_401(live: Live, store: Store) -> None:
    async with live.client(None) as anonymous:
        r = await anonymous.get(f"{store.path}/agents")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthenticated"
    async with live.client("lw_not-a-real-key") as wrong:
        assert (await wrong.get(f"{store.path}/agents")).status_code == 401


async def test_readonly_cannot_write_and_member_cannot_admin(live: Live, store: Store) -> None:
    agent = await store.agent()
    async with live.client(await store.key("readonly")) as readonly:
        assert (await readonly.get(f"{store.path}/agents/{agent['id']}")).status_code == 200
        r = await readonly.post(f"{store.path}/sessions", json={"agent_id": agent["id"]})
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "forbidden"
    async with live.client(await store.key("member")) as member:
        r = await member.post(f"{store.path}/agents", json={"name": "nope"})
        assert r.status_code == 403
        r = await member.post(f"{store.path}/keys", json={"role": "admin"})
        assert r.status_code == 403
        r = await member.post(f"{store.path}/sessions", json={"agent_id": agent["id"]})
        assert r.status_code == 201


async def test_deleted_key_stops_working(live: Live, store: Store) -> None:
    key = await store.key("member")
    listed = (await store.admin.get(f"{store.path}/keys")).json()["items"]
    key_id = next(k["id"] for k in listed if k["role"] == "member")
    assert (await store.admin.delete(f"{store.path}/keys/{key_id}")).status_code == 204
    async with live.client(key) as client:
        assert (await client.get(f"{store.path}/agents")).status_code == 401
    assert (await store.admin.delete(f"{store.path}/keys/{key_id}")).status_code == 404


async def test_keys_are_stored_hashed(live: Live, store: Store) -> None:
    key = await store.key("member")
    db_path = live.settings.data_dir / "loopwright.db"
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT key_hash, prefix FROM api_keys").fetchall()
    assert rows
    assert all(key not in (h, p) for h, p in rows)
    assert all(len(h) == 64 for h, _ in rows)


async def test_invalid_role_is_422(store: Store) -> None:
    r = await store.admin.post(f"{store.path}/keys", json={"role": "superuser"})
    assert r.status_code == 422


async def test_the_operator_sees_the_workers_and_a_store_key_may_not(live: Live) -> None:
    workers = (await live.http.get("/v1/workers")).json()["items"]
    mine = [w for w in workers if w["executor_id"] == live.settings.process_executor_id]
    assert [w["state"] for w in mine] == ["alive"]  # the test server's own worker, beating
    assert mine[0]["application_version"] == live.settings.dbos_application_version
    store = await live.new_store()
    assert (await store.admin.get("/v1/workers")).status_code == 403
