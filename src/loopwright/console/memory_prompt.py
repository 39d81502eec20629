"""The chat's memory commands: ``/reflect`` asks the agent to reflect on the session and puts
each memory it suggests to the user (``keep``, ``discard`` or ``skip``: decide later in the web
console's Memories page), and ``/memories`` lists what the agent remembers."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from loopwright.client import Client, ClientError, MemorySuggestion
from loopwright.console.exits import describe

PROMPT = "[bold cyan]keep / discard / skip>[/] "
KEEP = frozenset({"k", "keep", "y", "yes"})
DISCARD = frozenset({"d", "discard", "n", "no"})
SKIP = frozenset({"s", "skip"})
REFLECT_TIMEOUT_S = 120.0
LISTED = 20


def parse(answer: str) -> str | None:
    """``keep``, ``discard``, ``skip``, or None when the answer is none of them."""
    word = answer.strip().lower()
    if word in KEEP:
        return "keep"
    if word in DISCARD:
        return "discard"
    if word in SKIP:
        return "skip"
    return None


def reflect(client: Client, console: Console, session_id: str) -> None:
    """Reflect on the session now, wait for it, and ask about each suggestion still pending."""
    reflection = client.memories.reflect(session_id)
    if reflection.run_id is None:
        console.print("[dim]nothing new to reflect on[/]", highlight=False)
        return
    console.print(f"[dim]reflecting on {reflection.messages} messages…[/]", highlight=False)
    run = client.runs.wait(reflection.run_id, timeout_s=REFLECT_TIMEOUT_S)
    if run.status != "completed":
        console.print(f"[red]the reflection {run.status}:[/] {escape(run.error or '')}")
        return
    pending = client.memory_suggestions.list(session_id=session_id, status="pending").items
    if not pending:
        console.print("[dim]no memory suggested[/]", highlight=False)
    for suggestion in pending:
        _ask(client, console, suggestion)


def _ask(client: Client, console: Console, suggestion: MemorySuggestion) -> None:
    relation = {
        "duplicate": " [dim](repeats a memory: keeping it replaces that one)[/]",
        "contradiction": " [dim](contradicts a memory: keeping it replaces that one)[/]",
    }.get(suggestion.relation, "")
    console.print(
        f"[bold cyan]✎ remember?[/] {escape(f'[{suggestion.type}]')} {escape(suggestion.content)}"
        f"{relation}",
        highlight=False,
    )
    if suggestion.reason:
        console.print(f"  [dim]{escape(suggestion.reason)}[/]", highlight=False)
    while True:
        choice = parse(console.input(PROMPT))
        if choice is not None:
            break
        console.print("answer [bold]keep[/], [bold]discard[/] or [bold]skip[/]")
    try:
        if choice == "keep":
            client.memory_suggestions.approve(suggestion.id)
            console.print("[green]✓ kept[/]")
        elif choice == "discard":
            client.memory_suggestions.reject(suggestion.id)
            console.print("[dim]✗ discarded[/]")
        else:
            console.print("[dim]left for the Memories page of the web console[/]")
    except ClientError as error:  # decided elsewhere meanwhile
        console.print(f"[red]could not {choice}:[/] {escape(describe(error))}", highlight=False)


def list_memories(client: Client, console: Console, agent_id: str) -> None:
    """The agent's memories (its own and the shared ones), most recent first."""
    found = client.memories.list(agent_id=agent_id, limit=LISTED).items
    if not found:
        console.print("No memories yet: /reflect suggests some from this conversation.")
        return
    for memory in found:
        shared = " [dim]shared[/]" if memory.shared else ""
        console.print(
            f"  {escape(f'[{memory.type}]')} {escape(memory.content)}{shared}", highlight=False
        )
