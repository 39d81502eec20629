"""The chat's question when its run asks for a tool approval: ``approve``, ``reject (reason)``
or ``skip`` (decide elsewhere: the web console, ``loopwright approvals``), decided through the
client; the decision itself is shown by the run's ``approval.decided`` event."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from loopwright.client import Client, ClientError
from loopwright.console.exits import describe

PROMPT = "[bold yellow]approve / reject (reason) / skip>[/] "
APPROVE = frozenset({"a", "approve", "y", "yes"})
REJECT = frozenset({"r", "reject", "n", "no"})
SKIP = frozenset({"s", "skip"})


def parse(answer: str) -> tuple[str, str | None] | None:
    """``("approve", None)``, ``("reject", reason or None)``, ``("skip", None)``, or None when
    the answer is none of them."""
    word, _, rest = answer.strip().partition(" ")
    word = word.lower()
    if word in APPROVE and not rest.strip():
        return "approve", None
    if word in REJECT:
        return "reject", rest.strip() or None
    if word in SKIP:
        return "skip", None
    return None


def ask(client: Client, console: Console, approval_id: str) -> None:
    """Ask until the answer is understood, then decide (a Ctrl-C goes to the caller)."""
    while True:
        choice = parse(console.input(PROMPT))
        if choice is not None:
            break
        console.print("answer [bold]approve[/], [bold]reject[/] and a reason, or [bold]skip[/]")
    decision, reason = choice
    try:
        if decision == "approve":
            client.approvals.approve(approval_id)
        elif decision == "reject":
            client.approvals.reject(approval_id, reason=reason)
        else:
            console.print(
                f"[dim]left pending: decide in the web console or with "
                f"`loopwright approvals approve|reject {approval_id}` (Ctrl-C cancels the run)[/]",
                highlight=False,
            )
    except ClientError as error:  # decided elsewhere meanwhile, or expired
        console.print(f"[red]could not {decision}:[/] {escape(describe(error))}", highlight=False)
