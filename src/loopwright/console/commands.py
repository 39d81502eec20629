"""The CLI's everyday commands, built on the client: they talk to a server (``--url``,
``--key`` or ``LOOPWRIGHT_URL``, ``LOOPWRIGHT_KEY``), print a table or ``--json``, say so when a
list is empty, and exit with the codes of ``console.exits``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

import typer
from pydantic import BaseModel

from loopwright.client import Agent, Client, ClientError
from loopwright.client.models import AgentSettings
from loopwright.console.exits import INTERRUPTED, NOT_FOUND, USAGE, describe, exit_code

T = TypeVar("T")


@contextmanager
def connected(url: str | None, key: str | None, store: str | None) -> Iterator[Client]:
    """A client; a client error ends the command with its message and exit code."""
    client = Client(url, key, store=store)
    try:
        yield client
    except ClientError as error:
        typer.echo(f"error: {describe(error)}", err=True)
        raise typer.Exit(exit_code(error)) from error
    except KeyboardInterrupt:
        raise typer.Exit(INTERRUPTED) from None
    finally:
        client.close()


def dump(value: BaseModel | Sequence[BaseModel]) -> str:
    if isinstance(value, BaseModel):
        return value.model_dump_json(indent=2)
    return json.dumps([item.model_dump(mode="json") for item in value], indent=2)


def show_list(items: Sequence[T], as_json: bool, empty: str, row: Callable[[T], str]) -> None:
    if as_json:
        typer.echo(json.dumps([_plain(item) for item in items], indent=2))
    elif not items:
        typer.echo(empty)
    else:
        for item in items:
            typer.echo(row(item))


def _plain(item: Any) -> Any:
    return item.model_dump(mode="json") if isinstance(item, BaseModel) else item


def find_agent(client: Client, name: str) -> Agent:
    agent = client.agents.find(name)
    if agent is None:
        typer.echo(f"error: no agent {name!r} in store {client.store_id()}", err=True)
        raise typer.Exit(NOT_FOUND)
    return agent


# -- agents --------------------------------------------------------------------------------------
def agent_list(url: str | None, key: str | None, store: str | None, as_json: bool) -> None:
    with connected(url, key, store) as lw:
        agents = list(lw.paginate(lw.agents.list, limit=200))
        show_list(
            agents,
            as_json,
            f"No agents in store {lw.store_id()}.",
            lambda a: f"{a.id}  {a.name}  {a.model}  {a.status}",
        )


def agent_fields(
    *,
    model: str | None,
    description: str | None,
    system_prompt: str | None,
    tools: str | None,
    max_steps: int | None,
    mode: str | None,
    status: str | None,
) -> AgentSettings:
    """The fields given on the command line (the server checks their values)."""
    fields: AgentSettings = {}
    if model is not None:
        fields["model"] = model
    if description is not None:
        fields["description"] = description
    if system_prompt is not None:
        fields["system_prompt"] = system_prompt
    if tools is not None:
        fields["tools"] = [t.strip() for t in tools.split(",") if t.strip()]
    if max_steps is not None:
        fields["max_steps"] = max_steps
    if mode is not None:
        if mode not in ("single", "team"):
            raise usage("--mode is single or team")
        fields["mode"] = "team" if mode == "team" else "single"
    if status is not None:
        if status not in ("active", "disabled"):
            raise usage("--status is active or disabled")
        fields["status"] = "active" if status == "active" else "disabled"
    return fields


def usage(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(USAGE)


def print_agent(agent: Agent, as_json: bool) -> None:
    if as_json:
        typer.echo(dump(agent))
        return
    for name in ("id", "name", "model", "mode", "status", "max_steps", "tools", "description"):
        typer.echo(f"{name:>12}: {getattr(agent, name)}")


# -- approvals -----------------------------------------------------------------------------------
ApprovalStatus = Literal["pending", "approved", "rejected", "expired"]
APPROVAL_STATUSES: dict[str, ApprovalStatus | None] = {
    "pending": "pending",
    "approved": "approved",
    "rejected": "rejected",
    "expired": "expired",
    "all": None,
}


def approval_status(status: str) -> ApprovalStatus | None:
    """``--status``: a status, or ``all`` (None: no filter)."""
    if status not in APPROVAL_STATUSES:
        raise usage("--status is pending, approved, rejected, expired or all")
    return APPROVAL_STATUSES[status]


# -- events --------------------------------------------------------------------------------------
def parse_json_object(text: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        typer.echo(f"error: {option} is not JSON: {exc}", err=True)
        raise typer.Exit(USAGE) from exc
    if not isinstance(value, dict):
        typer.echo(f"error: {option} must be a JSON object", err=True)
        raise typer.Exit(USAGE)
    return value
