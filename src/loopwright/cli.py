"""The ``loopwright`` command: serve, worker, migrate, and store/key/agent management."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from loopwright.errors import LoopwrightError
from loopwright.settings import Settings

if TYPE_CHECKING:
    from loopwright.db.database import Database
    from loopwright.domain.vocabulary import Role

# Each command imports what it uses: `serve --processes N`'s supervisor then loads no
# database, model or web code (~40 MiB instead of ~110), and `--help` answers at once.

T = TypeVar("T")

app = typer.Typer(
    help="Loopwright: a self-hostable, multi-tenant agent server.",
    epilog="Exit codes of the commands through the API: 0 done, 1 refused or failed, 2 bad usage,"
    " 3 server unreachable, 4 not found, 5 no key or role too low, 130 Ctrl-C (docs/client.md).",
    no_args_is_help=True,
)
store_app = typer.Typer(help="Manage stores (operator).", no_args_is_help=True)
key_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
agent_app = typer.Typer(help="Manage agents.", no_args_is_help=True)
app.add_typer(store_app, name="store")
app.add_typer(key_app, name="key")
app.add_typer(agent_app, name="agent")
secrets_app = typer.Typer(help="Manage secrets at rest.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="data directory")]
DatabaseUrl = Annotated[str | None, typer.Option("--database-url", help="database URL")]


def load_settings(data_dir: Path | None, database_url: str | None, **extra: Any) -> Settings:
    overrides: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    settings = Settings(**overrides)
    settings.ensure_data_dir()
    return settings


def with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Migrate, open the database, run ``work``, close; errors become a clean exit."""

    from loopwright.db.database import Database
    from loopwright.db.migrate import upgrade

    async def main() -> T:
        await asyncio.to_thread(upgrade, settings.app_database_url)
        db = Database(settings.app_database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except LoopwrightError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from exc


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="API only, no runs")] = False,
    processes: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="server processes on the port (one core each)"),
    ] = None,
    fd: Annotated[
        int | None, typer.Option(hidden=True, help="serve on this inherited socket")
    ] = None,
    ready_fd: Annotated[
        int | None, typer.Option(hidden=True, help="write a byte here once started")
    ] = None,
) -> None:
    """Run the API server (and, unless --no-worker, a worker) in this process, or in
    --processes processes sharing the port."""
    import uvicorn

    from loopwright.server.http_server import uvicorn_config

    settings = load_settings(data_dir, database_url, host=host, port=port, processes=processes)
    if fd is not None:  # one of the supervisor's processes (the first makes the demo store)
        from loopwright.server.app import create_app
        from loopwright.server.supervisor import inherited_socket, signal_ready

        if settings.create_demo:
            _create_demo(settings)
        app = create_app(
            settings,
            run_worker=not no_worker,
            on_ready=None if ready_fd is None else lambda: signal_ready(ready_fd),
        )
        server = uvicorn.Server(uvicorn_config(app, settings))
        server.run(sockets=[inherited_socket(fd)])
        return
    if settings.create_demo and settings.processes == 1:
        _create_demo(settings)
    typer.echo(
        f"Loopwright on http://{settings.host}:{settings.port}/  (web UI; API reference at /docs;"
        f" data: {settings.data_dir})"
    )
    if settings.processes > 1:
        from loopwright.server.supervisor import Supervisor

        raise typer.Exit(Supervisor(settings, run_worker=not no_worker).run())
    from loopwright.server.app import create_app

    app = create_app(settings, run_worker=not no_worker)
    uvicorn.Server(uvicorn_config(app, settings, host=settings.host, port=settings.port)).run()


def _create_demo(settings: Settings) -> None:
    """First start: create the demo store and print its admin key (shown only this once).
    Later starts: say how to make a new admin key, since the first one is not shown again."""
    from loopwright.bootstrap import create_demo_if_empty, first_store

    demo = with_database(settings, create_demo_if_empty)
    if demo is not None:
        typer.echo(f"Created store '{demo.store_id}' with an offline agent.")
        typer.echo(f"  admin key: {demo.admin_key}")
        typer.echo("  open the address below in a browser and paste the key")
        return
    store = with_database(settings, first_store) or "<store>"
    default_dir = Path(".loopwright").resolve()
    data_dir = "" if settings.data_dir == default_dir else f" --data-dir {settings.data_dir}"
    typer.echo(
        "Sign in with an admin key; to make a new one: "
        f"loopwright key create --store {store} --role admin{data_dir}"
    )


@app.command()
def migrate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply database migrations."""
    from loopwright.db.migrate import upgrade

    settings = load_settings(data_dir, database_url)
    upgrade(settings.app_database_url)
    typer.echo("database is at the latest migration")


@store_app.command("create")
def store_create(
    store_id: Annotated[str, typer.Argument(help="slug, e.g. acme")],
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a store and its first admin key."""
    from loopwright.ids import STORE_ID_PATTERN

    if not STORE_ID_PATTERN.match(store_id):
        typer.echo("error: store id must be 3-40 lowercase letters, digits or '-'", err=True)
        raise typer.Exit(code=2)
    from loopwright.db.repos import tenancy

    settings = load_settings(data_dir, database_url)

    async def work(db: Database) -> str:
        async with db.write(store_id) as session:
            await tenancy.create_store(session, store_id, name or store_id)
            issued = await tenancy.issue_key(session, store_id, "admin", "created by CLI")
        return issued.key

    key = with_database(settings, work)
    if as_json:
        typer.echo(json.dumps({"store_id": store_id, "admin_key": key}))
    else:
        typer.echo(f"store {store_id} created; admin key: {key}")


@key_app.command("create")
def key_create(
    store: Annotated[str, typer.Option("--store", help="store id")],
    role: Annotated[str, typer.Option("--role", help="admin, member or readonly")] = "member",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Issue an API key for a store."""
    if role not in ("admin", "member", "readonly"):
        typer.echo("error: role must be admin, member or readonly", err=True)
        raise typer.Exit(code=2)
    checked_role: Role = (
        "admin" if role == "admin" else "member" if role == "member" else "readonly"
    )
    from loopwright.db.repos import tenancy

    settings = load_settings(data_dir, database_url)

    async def work(db: Database) -> tuple[str, str]:
        async with db.write(store) as session:
            await tenancy.get_store(session, store)
            issued = await tenancy.issue_key(session, store, checked_role, "created by CLI")
        return issued.row.id, issued.key

    key_id, key = with_database(settings, work)
    if as_json:
        typer.echo(json.dumps({"id": key_id, "store_id": store, "role": role, "key": key}))
    else:
        typer.echo(f"{role} key for {store}: {key}")


@secrets_app.command("rotate")
def secrets_rotate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Re-encrypt every stored secret under the newest key of LOOPWRIGHT_SECRET_KEYS.

    Put the new key first and keep the old ones after it; once this ran, old keys can go.
    """
    from loopwright.crypto import load_secret_box
    from loopwright.db.repos import secrets_at_rest
    from loopwright.db.row_security import ALL_STORES

    settings = load_settings(data_dir, database_url)
    box = load_secret_box(settings)

    async def work(db: Database) -> int:
        async with db.write(ALL_STORES) as session:
            return await secrets_at_rest.rotate(session, box)

    typer.echo(f"re-encrypted {with_database(settings, work)} secrets under the newest key")


@app.command()
def worker(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Run queued runs without serving HTTP: the worker half of `serve --no-worker`, on the
    same database (stop with Ctrl-C or SIGTERM)."""
    from loopwright.server.logs import configure
    from loopwright.server.worker import run_worker

    settings = load_settings(data_dir, database_url)
    import logging.config

    logging.config.dictConfig(configure(settings))
    typer.echo(f"Loopwright worker on {settings.data_dir}")
    asyncio.run(run_worker(settings))


# -- commands through the API (the Python client; console/api_cli.py) --------------------------
from loopwright.console import api_cli  # noqa: E402
from loopwright.console.options import AsJson, Key, StoreOpt, Url  # noqa: E402

api_cli.register(app, agent_app)


@agent_app.command("list")
def agent_list(
    store: StoreOpt = None,
    url: Url = None,
    key: Key = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List a store's agents: through the API with a key (--key, LOOPWRIGHT_KEY), else from
    the data directory's database (--store needed)."""
    from loopwright.console import commands

    if key is not None:
        commands.agent_list(url, key, store, as_json)
        return
    if store is None:
        raise commands.usage("--store is needed without a key (or give --key)")
    from loopwright.db.repos import agents, tenancy

    settings = load_settings(data_dir, database_url)

    async def work(db: Database) -> list[dict[str, str]]:
        async with db.read(store) as session:
            await tenancy.get_store(session, store)
            page = await agents.search(
                session, store, q=None, status=None, mode=None, limit=200, cursor=None
            )
        return [
            {"id": a.id, "name": a.name, "model": a.model, "status": a.status} for a in page.items
        ]

    found = with_database(settings, work)
    commands.show_list(
        found,
        as_json,
        f"No agents in store {store}.",
        lambda a: f"{a['id']}  {a['name']}  {a['model']}  {a['status']}",
    )


def main() -> None:
    app()
