"""Shared fixtures: a real server on loopback over a real database, one store per test.

The server runs in the test's event loop under uvicorn on 127.0.0.1 (real HTTP); each test gets
fresh stores, so tests are isolated by the product's own tenancy. PostgreSQL tests use a new
database per session on the local server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest
import uvicorn

from loopwright.db.database import Database
from loopwright.db.migrate import upgrade
from loopwright.server.app import create_app
from loopwright.settings import Settings
from tests.llm.fakes import openai_app, serve
from tests.procs import FORK_SERVER, OPERATOR_KEY, STARTED, ServerProcess
from tests.scripted import GatedLLM

if TYPE_CHECKING:
    from tests.event_audit import EventAudit

pytest_plugins = ["tests.event_audit"]  # every event the session's servers produce is checked
PG_ADMIN_URL = os.environ.get("LOOPWRIGHT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Live:
    """A running server and an operator client."""

    base_url: str
    settings: Settings
    app: Any
    http: httpx.AsyncClient

    def client(self, key: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30)

    async def new_store(self, prefix: str = "st") -> Store:
        store_id = f"{prefix}-{uuid.uuid4().hex[:10]}"
        r = await self.http.post("/v1/stores", json={"id": store_id, "name": store_id})
        assert r.status_code == 201, r.text
        r = await self.http.post(f"/v1/stores/{store_id}/keys", json={"role": "admin"})
        assert r.status_code == 201, r.text
        return Store(id=store_id, admin=self.client(r.json()["key"]), live=self)


@dataclass
class Store:
    id: str
    admin: httpx.AsyncClient
    live: Live

    @property
    def path(self) -> str:
        return f"/v1/stores/{self.id}"

    async def key(self, role: str) -> str:
        r = await self.admin.post(f"{self.path}/keys", json={"role": role})
        assert r.status_code == 201, r.text
        return str(r.json()["key"])

    async def agent(self, **fields: Any) -> dict[str, Any]:
        body = {"name": f"agent-{uuid.uuid4().hex[:8]}", **fields}
        r = await self.admin.post(f"{self.path}/agents", json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def session(self, agent_id: str, **fields: Any) -> dict[str, Any]:
        r = await self.admin.post(f"{self.path}/sessions", json={"agent_id": agent_id, **fields})
        assert r.status_code == 201, r.text
        return dict(r.json())


async def start_server(settings: Settings) -> tuple[uvicorn.Server, asyncio.Task[None], str, Any]:
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)  # readiness poll of uvicorn's own flag
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}", app


@contextlib.contextmanager
def new_pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database (its URL), dropped afterwards with DBOS's beside it."""
    name = f"lw_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for db in (name, f"{name}_dbos"):  # the app database and DBOS's system database
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session."""
    with new_pg_database() as url:
        yield url


@pytest.fixture(scope="session")
def quiet_pg_url() -> Iterator[str]:
    """A PostgreSQL database no server process uses, for this test session: for tests that
    drive the database layer themselves, where a server's worker (``live_pg`` on ``pg_url``)
    would admit, recover or notify behind their back."""
    with new_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated app database the test drives itself: SQLite in ``tmp_path``, then
    PostgreSQL (``quiet_pg_url``: no server process admits, recovers or notifies behind its
    back). A test narrows it with ``@pytest.mark.parametrize("db", [...], indirect=True)``."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
    else:
        url = request.getfixturevalue("quiet_pg_url")
    await asyncio.to_thread(upgrade, url)
    database = Database(url)
    yield database
    await database.dispose()


@pytest.fixture
def own_pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test: for servers with their own data directory
    (and so their own secret key) that must not meet the session server's encrypted rows."""
    with new_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """For a test's own server processes: None (SQLite in their data directory), then a fresh
    PostgreSQL database (``own_pg_url``)."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("own_pg_url")
    return url


TEST_SETTINGS: dict[str, Any] = {
    "event_poll_s": 0.5,
    "sse_heartbeat_s": 1,
    "egress_allow": "127.0.0.1/32",
    "tool_calls_per_min": 6,
}
SAME_AS_LIVE = {f"LOOPWRIGHT_{name.upper()}": str(value) for name, value in TEST_SETTINGS.items()}
"""The test settings as environment variables: ``live_pg``'s process runs with what ``live``
has."""


def make_settings(data_dir: Path, database_url: str | None = None, **extra: Any) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        operator_key=OPERATOR_KEY,
        **{**TEST_SETTINGS, **extra},
    )


async def _live(settings: Settings, audit: EventAudit) -> AsyncIterator[Live]:
    server, task, base_url, app = await start_server(settings)
    audit.watch(app.state.services.hub, "live (streamed)")
    operator = httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {OPERATOR_KEY}"}, timeout=30
    )
    try:
        yield Live(base_url=base_url, settings=settings, app=app, http=operator)
    finally:
        await operator.aclose()
        server.should_exit = True
        await task
        await audit.read_log(settings.app_database_url, "live")


@pytest.fixture(scope="session")
async def live(
    tmp_path_factory: pytest.TempPathFactory, event_audit: EventAudit
) -> AsyncIterator[Live]:
    """The embedded default: SQLite in a data directory."""
    async for item in _live(make_settings(tmp_path_factory.mktemp("data")), event_audit):
        yield item


@pytest.fixture(scope="session")
async def live_pg(
    tmp_path_factory: pytest.TempPathFactory, pg_url: str, event_audit: EventAudit
) -> AsyncIterator[Live]:
    """The scaled-out database: PostgreSQL, in a server process of its own (DBOS is one per
    process)."""
    data_dir = tmp_path_factory.mktemp("data-pg")
    settings = make_settings(data_dir, pg_url)
    server = ServerProcess(data_dir, {"LOOPWRIGHT_DATABASE_URL": pg_url, **SAME_AS_LIVE})
    await server.start()
    STARTED.remove(server)  # lives for the session, stopped below
    operator = httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {OPERATOR_KEY}"}, timeout=30
    )
    try:
        yield Live(
            base_url=server.base_url,
            settings=settings,
            app=None,
            http=operator,
        )
    finally:
        await operator.aclose()
        await server.stop()
        await event_audit.read_log(pg_url, "live_pg")


@pytest.fixture(params=["sqlite", "postgresql"])
def any_live(request: pytest.FixtureRequest) -> Live:
    name = "live" if request.param == "sqlite" else "live_pg"
    found: Live = request.getfixturevalue(name)
    return found


@pytest.fixture
def store_server(request: pytest.FixtureRequest) -> Live:
    """The server of the ``store`` fixture: SQLite's, or each in turn where the test is marked
    ``both_databases`` (see pytest_generate_tests)."""
    database = getattr(request, "param", "sqlite")
    found: Live = request.getfixturevalue("live" if database == "sqlite" else "live_pg")
    return found


async def in_postgresql(database_url: str, store_id: str) -> bool:
    """Whether the store is a row of this PostgreSQL database (read beside the server)."""
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    async with await psycopg.AsyncConnection.connect(url) as conn:
        found = await conn.execute("SELECT 1 FROM stores WHERE id = %s", (store_id,))
        return await found.fetchone() is not None


@pytest.fixture
async def store(store_server: Live) -> AsyncIterator[Store]:
    created = await store_server.new_store()
    if store_server.settings.database_url is not None:  # a [postgresql] test: really there
        assert await in_postgresql(store_server.settings.database_url, created.id)
    yield created
    await created.admin.aclose()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.both_databases`` (on a test or a module): its ``store`` fixture is made on
    SQLite and again on PostgreSQL. For tests of behaviour the database decides (queries, order,
    pagination, constraints, concurrency), that reach the server only through its API: the
    PostgreSQL server is another process (``live_pg``), so ``store.live.app`` is None there."""
    marked = metafunc.definition.get_closest_marker("both_databases") is not None
    marked = marked and metafunc.definition.get_closest_marker("in_process") is None
    if marked and "store" in metafunc.fixturenames and "live" not in metafunc.fixturenames:
        metafunc.parametrize("store_server", ["sqlite", "postgresql"], indirect=True)


def pytest_sessionstart(session: pytest.Session) -> None:
    """The fork server of ServerProcess starts importing now, beside the first tests (in each
    process that runs tests: not in pytest-xdist's controller)."""
    config = session.config
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        FORK_SERVER.start()


SLOWEST_FIRST = [
    "test_cli_client.py",
    "test_fuzz_api.py",
    "test_scale_out.py",
    "test_supervisor.py",
    "test_durability.py",
    "test_ui_pages.py",
    "test_team_mode.py",
    "test_child_runs.py",
    "test_metrics.py",
    "test_chat.py",
    "test_store_concurrency.py",
    "test_team_durability.py",
    "test_cli.py",
    "test_callbacks.py",
    "test_approvals.py",
    "test_pages.py",
    "test_schedules.py",
    "test_relay.py",
    "test_chat_terminal.py",
]
"""The files that take longest (wall time; `pytest --durations`), heaviest first. With
``--dist loadfile`` the workers take files in collection order, so these are spread over the
workers at the start and the short files fill in at the end: both workers finish together
instead of one running a long file alone at the end."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # stable: the order within a file and among the rest stays


@pytest.fixture(autouse=True)
async def stop_leftover_servers() -> AsyncIterator[None]:
    """A test that fails half-way leaves no server process behind."""
    yield
    while STARTED:
        await STARTED.pop().stop()


@pytest.fixture
async def fake() -> AsyncIterator[tuple[GatedLLM, str]]:
    """A fake OpenAI-compatible server on loopback, scripted by the test: (script, base URL)."""
    llm = GatedLLM()
    async with serve(openai_app(llm)) as base_url:
        yield llm, base_url
        llm.reset()
