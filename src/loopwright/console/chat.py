"""``loopwright chat``: an interactive conversation with one agent, in a terminal, through the
client (so against any server the URL reaches)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from loopwright.client import Agent, Client, ClientError, Session
from loopwright.client.events import ApprovalRequestedEvent
from loopwright.console import memory_prompt
from loopwright.console.approval_prompt import ask
from loopwright.console.exits import NOT_FOUND, OK, describe, exit_code
from loopwright.console.render import RunView

HELP = """\
[bold]/new[/]          start a new session with this agent
[bold]/sessions[/]     list this agent's sessions
[bold]/resume N|ID[/]  continue session N of the list (or by id)
[bold]/reflect[/]      suggest memories from this session, to keep or discard
[bold]/memories[/]     what this agent remembers
[bold]/help[/]         this help      [bold]/quit[/]  leave (or Ctrl-D)
Ctrl-C while the agent works cancels its run; a second Ctrl-C (or one at the prompt) leaves.
A tool call that needs approval asks: approve, reject (and a reason), or skip."""


class Chat:
    def __init__(self, client: Client, agent: Agent, console: Console) -> None:
        self.client = client
        self.agent = agent
        self.console = console
        self.session: Session | None = None
        self._listed: list[Session] = []

    # -- sessions --------------------------------------------------------------------------
    def new_session(self) -> None:
        self.session = self.client.sessions.create(self.agent.id)
        self.console.print(f"[dim]new session {self.session.id}[/]", highlight=False)

    def resume(self, session: Session) -> None:
        self.session = session
        history = self.client.sessions.messages(session.id, order="newest", limit=10).items
        self.console.print(f"[dim]resumed session {session.id}[/]", highlight=False)
        for message in reversed(history):
            if message.kind == "user":
                self.console.print(f"[bold]you>[/] {escape(message.content)}", highlight=False)
            elif message.kind == "assistant" and message.content:
                self.console.print(escape(message.content), highlight=False)

    def list_sessions(self) -> None:
        page = self.client.sessions.list(agent_id=self.agent.id, child=False, limit=20)
        self._listed = page.items
        if not self._listed:
            self.console.print("No sessions yet.")
            return
        for number, session in enumerate(self._listed, 1):
            mark = "*" if self.session and session.id == self.session.id else " "
            title = escape(session.title) or "[dim](untitled)[/]"
            when = session.created_at.strftime("%Y-%m-%d %H:%M")
            self.console.print(f"{mark}{number:>3}. {session.id}  {when}  {title}", highlight=False)

    def command(self, text: str) -> bool:
        """Run a /command; False to leave."""
        name, _, argument = text.partition(" ")
        argument = argument.strip()
        if name in ("/quit", "/exit"):
            return False
        if name == "/help":
            self.console.print(HELP, highlight=False)
        elif name == "/new":
            self.new_session()
        elif name == "/sessions":
            self.list_sessions()
        elif name == "/reflect" and self.session is not None:
            memory_prompt.reflect(self.client, self.console, self.session.id)
        elif name == "/memories":
            memory_prompt.list_memories(self.client, self.console, self.agent.id)
        elif name == "/resume" and argument:
            if argument.isdigit() and 0 < int(argument) <= len(self._listed):
                self.resume(self._listed[int(argument) - 1])
            else:
                self.resume(self.client.sessions.get(argument))
        else:
            self.console.print(f"unknown command {escape(text)}: /help lists them")
        return True

    # -- a turn ----------------------------------------------------------------------------
    def turn(self, text: str) -> bool:
        """Send one message and show its run; False if the user asked to leave."""
        assert self.session is not None
        view = RunView(self.console, self.agent.max_steps)
        run_id: str | None = None
        last_seq: int | None = None
        try:
            for event in self.client.sessions.send(self.session.id, text, stream=True):
                run_id = event.run_id or run_id
                last_seq = event.seq if event.seq is not None else last_seq
                view.show(event)
                if isinstance(event, ApprovalRequestedEvent) and event.run_id == run_id:
                    ask(self.client, self.console, event.payload.approval_id)
            return True
        except KeyboardInterrupt:
            pass
        view.line("[yellow]cancelling… (Ctrl-C again to leave)[/]")
        try:
            for active in self._active_runs(run_id):
                self.client.runs.cancel(active)
                run_id = active
            if run_id is not None:
                events = self.client.events.run_events(run_id, last_seq, self.session.id)
                for event in events:
                    view.show(event)
        except KeyboardInterrupt:
            return False
        return True

    def _active_runs(self, run_id: str | None) -> list[str]:
        if run_id is not None:
            return [run_id]
        assert self.session is not None
        runs = self.client.runs.list(session_id=self.session.id, limit=5).items
        return [run.id for run in runs if not run.finished]

    def loop(self) -> int:
        self.console.print(
            f"Chatting with [bold]{escape(self.agent.name)}[/] ({escape(self.agent.model)})."
            " /help for commands.",
            highlight=False,
        )
        while True:
            try:
                text = self.console.input("[bold]you>[/] ").strip()
            except (KeyboardInterrupt, EOFError):
                break
            try:
                if text.startswith("/"):
                    if not self.command(text):
                        break
                elif text and not self.turn(text):
                    break
            except ClientError as error:
                self.console.print(f"[red]error:[/] {escape(describe(error))}", highlight=False)
        self.console.print("\nbye")
        return OK


def run_chat(
    client: Client,
    agent_name: str,
    *,
    session_id: str | None = None,
    resume_latest: bool = False,
    console: Console | None = None,
) -> int:
    console = console or Console()
    try:
        agent = client.agents.find(agent_name)
        if agent is None:
            console.print(f"error: no agent named {escape(agent_name)!r} in this store")
            return NOT_FOUND
        chat = Chat(client, agent, console)
        if session_id is not None:
            chat.resume(client.sessions.get(session_id))
        elif resume_latest and (
            latest := client.sessions.list(agent_id=agent.id, child=False, limit=1).items
        ):
            chat.resume(latest[0])
        else:
            chat.new_session()
    except ClientError as error:
        console.print(f"error: {escape(describe(error))}", highlight=False)
        return exit_code(error)
    return chat.loop()
