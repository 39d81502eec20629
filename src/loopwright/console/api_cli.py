"""The CLI's commands through the API (``chat``, ``agent create|show|edit|delete``, ``session``,
``runs``, ``events``, ``tools``, ``approvals``), registered on the ``loopwright`` command by
``register``.

Only typer is imported here; each command imports the client when it runs, so ``loopwright
--help`` and ``serve``'s supervisor load none of it."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from loopwright.console.options import (
    AgentDescription,
    AgentMode,
    AgentModel,
    AgentPrompt,
    AgentStatus,
    AgentSteps,
    AgentTools,
    AsJson,
    Key,
    StoreOpt,
    Url,
)

session_app = typer.Typer(help="Sessions (through the API).", no_args_is_help=True)
runs_app = typer.Typer(help="Runs (through the API).", no_args_is_help=True)
events_app = typer.Typer(help="The event log (through the API).", no_args_is_help=True)
tools_app = typer.Typer(help="Tools (through the API).", no_args_is_help=True)
approvals_app = typer.Typer(
    help="Tool calls waiting for a person (through the API).", no_args_is_help=True
)


def register(app: typer.Typer, agent_app: typer.Typer) -> None:
    app.command()(chat)
    for name, command in (
        ("create", agent_create),
        ("show", agent_show),
        ("edit", agent_edit),
        ("delete", agent_delete),
    ):
        agent_app.command(name)(command)
    app.add_typer(session_app, name="session")
    app.add_typer(runs_app, name="runs")
    app.add_typer(events_app, name="events")
    app.add_typer(tools_app, name="tools")
    app.add_typer(approvals_app, name="approvals")


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
        if found.queue is not None:
            after = f", after {found.queue.waits_for_run}" if found.queue.waits_for_run else ""
            typer.echo(
                f"{'queue':>12}: {found.queue.ahead} ahead, {found.queue.running} running{after}"
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


@approvals_app.command("list")
def approvals_list(
    status: Annotated[
        str, typer.Option("--status", help="pending, approved, rejected, expired or all")
    ] = "pending",
    agent: Annotated[str | None, typer.Option("--agent", help="only this agent's")] = None,
    run: Annotated[str | None, typer.Option("--run", help="only this run's")] = None,
    store: StoreOpt = None,
    url: Url = None,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """List tool approvals, newest first (by default those waiting for a decision)."""
    from loopwright.console import commands
    from loopwright.console.render import short

    wanted = commands.approval_status(status)
    with commands.connected(url, key, store) as lw:
        agent_id = commands.find_agent(lw, agent).id if agent else None
        found = list(
            lw.paginate(lw.approvals.list, status=wanted, agent_id=agent_id, run_id=run, limit=200)
        )
        commands.show_list(
            found,
            as_json,
            f"No {status} approvals." if wanted else "No approvals.",
            lambda a: (
                f"{a.id}  {a.status:<8} {a.tool:<20} {short(a.arguments, 50):<50}  "
                f"run {a.run_id}  {a.created_at:%Y-%m-%d %H:%M:%S}"
            ),
        )


@approvals_app.command("approve")
def approvals_approve(
    approval: Annotated[str, typer.Argument(help="approval id")],
    args: Annotated[
        str | None, typer.Option("--args", help="run the call with these arguments (JSON object)")
    ] = None,
    store: StoreOpt = None,
    url: Url = None,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Let a held tool call run (exit 1 if it was decided already or expired)."""
    from loopwright.console import commands

    arguments = commands.parse_json_object(args, "--args") if args is not None else None
    with commands.connected(url, key, store) as lw:
        decided = lw.approvals.approve(approval, arguments=arguments)
    typer.echo(commands.dump(decided) if as_json else f"approved {decided.id} ({decided.tool})")


@approvals_app.command("reject")
def approvals_reject(
    approval: Annotated[str, typer.Argument(help="approval id")],
    reason: Annotated[str | None, typer.Option("--reason", help="what the model is told")] = None,
    store: StoreOpt = None,
    url: Url = None,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Refuse a held tool call; the model reads the reason as the call's error."""
    from loopwright.console import commands

    with commands.connected(url, key, store) as lw:
        decided = lw.approvals.reject(approval, reason=reason)
    if as_json:
        typer.echo(commands.dump(decided))
    else:
        why = f": {decided.reason}" if decided.reason else ""
        typer.echo(f"rejected {decided.id} ({decided.tool}){why}")
