"""``/readyz``: database, migrations at head, the durable engine, the worker; ``/healthz``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from tests.conftest import Live
from tests.procs import ServerProcess


async def test_ready_server_reports_each_part(live: Live) -> None:
    r = await live.http.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "status": "ok",
        "database": "ok",
        "migrations": "ok",
        "durable_engine": "ok",
        "worker": "ok",
    }
    assert (await live.http.get("/healthz")).json() == {"status": "ok"}


async def test_not_ready_when_the_schema_is_behind(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    await server.start()
    try:
        with sqlite3.connect(tmp_path / "data" / "loopwright.db") as db:
            db.execute("UPDATE alembic_version SET version_num = '0001'")
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            r = await client.get("/readyz")
            assert r.status_code == 503, r.text
            assert r.json()["migrations"] == "behind"
            assert r.json()["status"] == "unavailable"
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await server.stop()


async def test_api_only_process_has_no_engine_and_is_ready(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    server.extra_args = ["--no-worker"]
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            r = await client.get("/readyz")
        assert r.status_code == 200, r.text
        assert (r.json()["durable_engine"], r.json()["worker"]) == ("off", "off")
    finally:
        await server.stop()
