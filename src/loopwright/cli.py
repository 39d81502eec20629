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
    help="Loopwright: a self-hostable, multi-tenant agent server.", no_args_is_help=True
)
store_app = typer.Typer(help="Manage stores (operator).", no_args_is_help=True)
key_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
agent_app = typer.Typer(help="Manage agents.", no_args_is_help=True)
app.add_typer(store_app, name="store")
app.add_typer(key_app, name="key")
app.add_typer(agent_app, name="agent")
secrets_app = typer.Typer(help="Manage secrets at rest.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")
session_app = typer.Typer(help="Sessions (through the API).", no_args_is_help=True)
runs_app = typer.Typer(help="Runs (through the API).", no_args_is_help=True)
events_app = typer.Typer(help="The event log (through the API).", no_args_is_help=True)
tools_app = typer.Typer(help="Tools (through the API).", no_args_is_help=True)
app.add_typer(session_app, name="session")
app.add_typer(runs_app, name="runs")
app.add_typer(events_app, name="events")
app.add_typer(tools_app, name="tools")

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

    from loopwright.server.logs import configure

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
        config = uvicorn.Config(app, log_level=settings.log_level, log_config=configure(settings))
        server = uvicorn.Server(config)
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

    uvicorn.run(
        create_app(settings, run_worker=not no_worker),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=configure(settings),
    )


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
        async with db.write() as session:
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
        async with db.write() as session:
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

    settings = load_settings(data_dir, database_url)
    box = load_secret_box(settings)

    async def work(db: Database) -> int:
        async with db.write() as session:
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


# -- commands through the API (the Python client): exit codes in docs/client.md -----------------
from loopwright.console.commands import AsJson, Key, StoreOpt, Url  # noqa: E402


@app.command()
def chat(
    agent: Annotated[str, typer.Option("--agent", help="agent name or id")],
    store: StoreOpt = None,
    url: Url = None,
    key: Key = None,
    session: Annotated[str | None, typer.Option("--session", help="resume this session")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="resume the newest session")] = False,
) -> None:
    """Chat with an agent in the terminal (Ctrl-C cancels a run; /help)."""
    from loopwright.client import Client
    from loopwright.console.chat import run_chat

    with Client(url, key, store=store) as client:
        code = run_chat(client, agent, session_id=session, resume_latest=resume)
    raise typer.Exit(code)


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
        async with db.read() as session:
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


AgentModel = Annotated[str | None, typer.Option("--model", help="provider:model")]
AgentDescription = Annotated[str | None, typer.Option("--description")]
AgentPrompt = Annotated[str | None, typer.Option("--system-prompt")]
AgentTools = Annotated[str | None, typer.Option("--tools", help="comma-separated tool names")]
AgentSteps = Annotated[int | None, typer.Option("--max-steps")]
AgentMode = Annotated[str | None, typer.Option("--mode", help="single or team")]
AgentStatus = Annotated[str | None, typer.Option("--status", help="active or disabled")]


@agent_app.command("create")
def agent_create(
    name: Annotated[str, typer.Argument(help="agent name")],
    model: AgentModel = None,
    description: AgentDescription = None,
    system_prompt: AgentPrompt = None,
    tools: AgentTools = None,
    max_steps: AgentSteps = None,
    mode: AgentMode = None,
    store: StoreOpt = None,
    url: Url = None,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Create an agent."""
    from loopwright.console import commands

    fields = commands.agent_fields(
        model=model,
        description=description,
        system_prompt=system_prompt,
        tools=tools,
        max_steps=max_steps,
        mode=mode,
        status=None,
    )
    with commands.connected(url, key, store) as lw:
        created = lw.agents.create(name=name, **fields)
        if as_json:
            typer.echo(commands.dump(created))
        else:
            typer.echo(f"created agent {created.name} ({created.id})")


@agent_app.command("show")
def agent_show(
    agent: Annotated[str, typer.Argument(help="name or id")],
    store: StoreOpt = None,
    url: Url = None,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Show an agent."""
    from loopwright.console import commands

    with commands.connected(url, key, store) as lw:
        commands.print_agent(commands.find_agent(lw, agent), as_json)


@agent_app.command("edit")
def agent_edit(
    agent: Annotated[str, typer.Argument(help="name or id")],
    name: Annotated[str | None, typer.Option("--name", help="new name")] = None,
    model: AgentModel = None,
    description: AgentDescription = None,
    system_prompt: AgentPrompt = None,
    tools: AgentTools = None,
    max_steps: AgentSteps = None,
    mode: AgentMode = None,
    status: AgentStatus = None,
    store: StoreOpt = None,
    url: Url = None,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Change the named fields of an agent."""
    from loopwright.console import commands

    fields = commands.agent_fields(
        model=model,
        description=description,
        system_prompt=system_prompt,
        tools=tools,
        max_steps=max_steps,
        mode=mode,
        status=status,
    )
    if not fields and name is None:
        raise commands.usage("nothing to change: name a field (see --help)")
    with commands.connected(url, key, store) as lw:
        found = commands.find_agent(lw, agent)
        if name is not None:
            updated = lw.agents.update(found.id, name=name, **fields)
        else:
            updated = lw.agents.update(found.id, **fields)
        commands.print_agent(updated, as_json)


@agent_app.command("delete")
def agent_delete(
    agent: Annotated[str, typer.Argument(help="name or id")],
    store: StoreOpt = None,
    url: Url = None,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Delete an agent."""
    from loopwright.console import commands

    with commands.connected(url, key, store) as lw:
        found = commands.find_agent(lw, agent)
        lw.agents.delete(found.id)
        typer.echo(json.dumps({"deleted": found.id}) if as_json else f"deleted agent {found.name}")


@session_app.command("list")
def session_list(
    agent: Annotated[str | None, typer.Option("--agent", help="only this agent's")] = None,
    store: StoreOpt = None,
    url: Url = None,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """List the sessions people started (newest first)."""
    from loopwright.console import commands

    with commands.connected(url, key, store) as lw:
        agent_id = commands.find_agent(lw, agent).id if agent else None
        sessions = list(lw.paginate(lw.sessions.list, agent_id=agent_id, child=False, limit=200))
        where = f" of agent {agent}" if agent else f" in store {lw.store_id()}"
        commands.show_list(
            sessions,
            as_json,
            f"No sessions{where}.",
            lambda s: f"{s.id}  {s.agent_id}  {s.created_at:%Y-%m-%d %H:%M}  {s.title}",
        )


@runs_app.command("list")
def runs_list(
    session: Annotated[str | None, typer.Option("--session", help="session id")] = None,
    status: Annotated[str | None, typer.Option("--status", help="e.g. running")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=200)] = 50,
    store: StoreOpt = None,
    url: Url = None,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """List runs (newest first)."""
    from loopwright.console import commands

    with commands.connected(url, key, store) as lw:
        runs = lw.runs.list(session_id=session, status=status, limit=limit).items
        commands.show_list(
            runs,
            as_json,
            "No runs.",
            lambda r: (
                f"{r.id}  {r.status:<10} {r.steps:>3} steps  {r.created_at:%Y-%m-%d %H:%M:%S}"
            ),
        )


@runs_app.command("show")
def runs_show(
    run: Annotated[str, typer.Argument(help="run id")],
    store: StoreOpt = None,
    url: Url = None,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Show a run."""
    from loopwright.console import commands

    with commands.connected(url, key, store) as lw:
        found = lw.runs.get(run)
        if as_json:
            typer.echo(commands.dump(found))
            return
        for name in ("id", "session_id", "agent_id", "status", "stop_reason", "error", "steps"):
            typer.echo(f"{name:>12}: {getattr(found, name)}")
        typer.echo(
            f"{'tokens':>12}: {found.usage.input_tokens} in / {found.usage.output_tokens} out"
        )


@runs_app.command("cancel")
def runs_cancel(
    run: Annotated[str, typer.Argument(help="run id")],
    store: StoreOpt = None,
    url: Url = None,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Cancel a run (and its unfinished child runs)."""
    from loopwright.console import commands

    with commands.connected(url, key, store) as lw:
        found = lw.runs.cancel(run)
        typer.echo(commands.dump(found) if as_json else f"run {found.id}: {found.status}")


@events_app.command("tail")
def events_tail(
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep following")] = False,
    session: Annotated[str | None, typer.Option("--session", help="session id")] = None,
    run: Annotated[str | None, typer.Option("--run", help="run id")] = None,
    types: Annotated[str | None, typer.Option("--types", help="comma-separated types")] = None,
    after: Annotated[int | None, typer.Option("--after", help="start after this seq")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="last N")] = 20,
    store: StoreOpt = None,
    url: Url = None,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Print the latest events (or those after --after); --follow keeps printing new ones,
    resuming after a dropped connection. One line per event (JSON Lines with --json)."""
    from collections import deque

    from rich.console import Console

    from loopwright.client.events import Event
    from loopwright.console import commands
    from loopwright.console.render import payload_of, short

    wanted = [t.strip() for t in types.split(",") if t.strip()] if types else None
    console = Console(highlight=False, soft_wrap=True)

    def emit(event: Event) -> None:
        if as_json:
            typer.echo(event.model_dump_json())
        else:
            seq = "-" if event.seq is None else str(event.seq)
            console.print(
                f"{seq:>7} {event.created_at:%H:%M:%S} [bold]{event.type}[/] "
                f"[dim]{short(payload_of(event), 100)}[/]",
                markup=True,
            )

    with commands.connected(url, key, store) as lw:
        filters: dict[str, Any] = {"session_id": session, "run_id": run, "types": wanted}
        cursor = after
        if cursor is None:  # the last `limit` events
            head = lw.events.head()
            # A session's or run's events are read from the start (an index serves them);
            # the whole store's, from a window before the head.
            cursor = 0 if session or run else max(head - limit * 50, 0)
            items: deque[Event] = deque(maxlen=limit)
            while True:
                page = lw.events.list(after=cursor, limit=1000, **filters)
                items.extend(page.items)
                if not page.items or page.next_after >= head:
                    break
                cursor = page.next_after
            cursor = head
            tail = list(items)
        else:
            page = lw.events.list(after=cursor, limit=limit, **filters)
            tail = list(page.items)
            cursor = page.next_after
        if not tail and not follow:
            typer.echo("No events." if not as_json else "", err=not as_json)
        for event in tail:
            emit(event)
        if follow:
            for event in lw.events.stream(after=cursor, **filters):
                emit(event)


@tools_app.command("list")
def tools_list(
    store: StoreOpt = None, url: Url = None, key: Key = None, as_json: AsJson = False
) -> None:
    """List the tools agents of the store may be given."""
    from loopwright.console import commands

    with commands.connected(url, key, store) as lw:
        tools = lw.tools.list().items
        commands.show_list(
            tools,
            as_json,
            f"No tools in store {lw.store_id()}.",
            lambda t: (
                f"{t.name:<28} {t.kind:<8} {'read-only' if t.read_only else 'writes':<9} "
                f"{t.description[:60]}"
            ),
        )


@tools_app.command("test")
def tools_test(
    name: Annotated[str, typer.Argument(help="tool name")],
    args: Annotated[str, typer.Option("--args", help="arguments as a JSON object")] = "{}",
    store: StoreOpt = None,
    url: Url = None,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Call a tool once with the given arguments (exit 1 if the tool failed)."""
    from loopwright.console import commands

    arguments = commands.parse_json_object(args, "--args")
    with commands.connected(url, key, store) as lw:
        result = lw.tools.test(name, arguments)
    if as_json:
        typer.echo(commands.dump(result))
    else:
        outcome = "ok" if result.ok else "failed"
        typer.echo(f"{outcome} in {result.duration_ms:.0f} ms: {json.dumps(result.result)}")
    raise typer.Exit(0 if result.ok else 1)


def main() -> None:
    app()
