"""How a run's events look in a terminal: streamed text, one line per tool call, reasoning
dimmed, plan progress, the step counter; any other type as a generic line."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape

from loopwright.client.events import Event, UnknownEvent

QUIET = frozenset({"chat.message_sent", "run.queued", "session.created", "session.updated"})
SHORT = 80
ARGUMENT_LINES = 12


def short(value: Any, limit: int = SHORT) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def payload_of(event: Event) -> dict[str, Any]:
    if isinstance(event, UnknownEvent):
        return dict(event.payload)
    return event.payload.model_dump(mode="json")


class RunView:
    """Renders one conversation's events; ``max_steps`` for the step counter."""

    def __init__(self, console: Console, max_steps: int | None = None) -> None:
        self.console = console
        self.max_steps = max_steps
        self._streamed: dict[tuple[str | None, int], str] = {}
        self._mid_line = False
        self._mode = ""  # "text" or "reasoning" while a delta line is open
        self._plan_steps: dict[str, str] = {}
        self._plan_done = 0

    # -- lines -----------------------------------------------------------------------------
    def _end_line(self) -> None:
        if self._mid_line:
            self.console.print()
            self._mid_line = False
            self._mode = ""

    def line(self, text: str) -> None:
        self._end_line()
        self.console.print(text, highlight=False)

    def _delta(self, text: str, mode: str) -> None:
        if self._mode and self._mode != mode:
            self._end_line()
        style = "dim italic" if mode == "reasoning" else None
        self.console.print(text, end="", style=style, markup=False, highlight=False)
        self._mid_line, self._mode = True, mode

    def _step(self, step: Any) -> str:
        """Steps count from 0 in events, from 1 on screen."""
        if not isinstance(step, int):
            return ""
        return f"step {step + 1}/{self.max_steps}" if self.max_steps else f"step {step + 1}"

    # -- events ----------------------------------------------------------------------------
    def show(self, event: Event) -> None:
        kind, p = event.type, payload_of(event)
        handler = getattr(self, "_on_" + kind.replace(".", "_"), None)
        if handler is not None:
            handler(event, p)
        elif kind not in QUIET:
            self._generic(kind, p)

    def _generic(self, kind: str, p: dict[str, Any]) -> None:
        fields = "  ".join(f"{k}={short(v, 40)}" for k, v in p.items())
        self.line(f"[cyan]•[/] [bold]{escape(kind)}[/] [dim]{escape(fields)}[/]")

    def _on_run_started(self, event: Event, p: dict[str, Any]) -> None:
        self.line(f"[dim]── run started · {escape(str(p.get('model', '')))}[/]")

    def _on_llm_text_delta(self, event: Event, p: dict[str, Any]) -> None:
        key = (event.run_id, p["step"])
        self._streamed[key] = self._streamed.get(key, "") + p["delta"]
        self._delta(p["delta"], "text")

    def _on_llm_reasoning_delta(self, event: Event, p: dict[str, Any]) -> None:
        self._streamed.setdefault((event.run_id, p["step"]), "")
        self._delta(p["delta"], "reasoning")

    def _on_llm_response_received(self, event: Event, p: dict[str, Any]) -> None:
        text = p.get("text") or ""
        streamed = self._streamed.pop((event.run_id, p["step"]), None)
        if streamed is None:  # no delta reached us (sent before the stream opened, or lost)
            if p.get("reasoning"):
                self._delta(p["reasoning"], "reasoning")
            if text:
                self._delta(text, "text")
        elif text.startswith(streamed) and len(text) > len(streamed):
            self._delta(text[len(streamed) :], "text")
        self._end_line()
        self.console.print(f"[dim]  ({self._step(p['step'])})[/]", highlight=False)

    def _on_tool_executing(self, event: Event, p: dict[str, Any]) -> None:
        args = escape(short(p.get("arguments", {}), 60))
        self.line(f"[yellow]⚙[/] [bold]{escape(p['tool'])}[/] {args} [dim]running…[/]")

    def _on_tool_completed(self, event: Event, p: dict[str, Any]) -> None:
        took = f"{p.get('duration_ms', 0):.0f} ms"
        result = escape(short(p.get("result")))
        self.line(f"[green]✓[/] [bold]{escape(p['tool'])}[/] [dim]ok · {took}[/] {result}")

    def _on_tool_failed(self, event: Event, p: dict[str, Any]) -> None:
        result = escape(short(p.get("result")))
        self.line(f"[red]✗[/] [bold]{escape(p['tool'])}[/] [red]{p.get('outcome')}[/] {result}")

    def _on_analysis(self, event: Event, p: dict[str, Any]) -> None:
        self.line(f"[magenta]route: {p['route']}[/] [dim]{escape(short(p['reason']))}[/]")

    def _on_plan_created(self, event: Event, p: dict[str, Any]) -> None:
        self._plan_steps = {s["step_id"]: s["title"] for s in p["steps"]}
        self._plan_done = 0
        self.line(f"[magenta]plan:[/] {escape(p['goal'])} [dim]({len(self._plan_steps)} steps)[/]")
        for number, step in enumerate(p["steps"], 1):
            self.line(f"  [dim]○ {number}. {escape(step['title'])}[/]")

    def _on_plan_step_started(self, event: Event, p: dict[str, Any]) -> None:
        title = escape(self._plan_steps.get(p["step_id"], p["step_id"]))
        attempt = f" (attempt {p['attempt']})" if p.get("attempt", 1) > 1 else ""
        self.line(f"  [magenta]▶[/] {title}{attempt}")

    def _on_plan_step_completed(self, event: Event, p: dict[str, Any]) -> None:
        self._plan_done += 1
        title = escape(self._plan_steps.get(p["step_id"], p["step_id"]))
        mark = {"completed": "[green]✓[/]", "failed": "[red]✗[/]"}.get(p["status"], "[dim]-[/]")
        total = len(self._plan_steps) or "?"
        self.line(f"  {mark} {title} [dim]{p['status']} · {self._plan_done}/{total} steps done[/]")

    def _on_executor_spawned(self, event: Event, p: dict[str, Any]) -> None:
        self.line(f"  [dim]executor {p['child_run_id']} started[/]")

    def _on_executor_result(self, event: Event, p: dict[str, Any]) -> None:
        self.line(f"  [dim]executor {p['child_run_id']} {p['status']}[/]")

    def _on_approval_requested(self, event: Event, p: dict[str, Any]) -> None:
        self.line(f"[bold yellow]⚠ approval needed:[/] [bold]{escape(str(p.get('tool')))}[/]")
        arguments = json.dumps(p.get("arguments", {}), indent=2, ensure_ascii=False)
        lines = arguments.splitlines()
        shown = lines[:ARGUMENT_LINES] + (["  …"] if len(lines) > ARGUMENT_LINES else [])
        for text in shown:
            self.line(f"    {escape(short(text, 160))}")
        expires = str(p.get("expires_at", ""))[:19].replace("T", " ")
        self.line(f"  [dim]approval {escape(str(p.get('approval_id')))} · expires {expires}[/]")

    def _on_approval_decided(self, event: Event, p: dict[str, Any]) -> None:
        decision = p.get("decision")
        by = f" by {p['decided_by']}" if p.get("decided_by") else ""
        if decision == "approved":
            changed = " (with changed arguments)" if p.get("arguments") else ""
            self.line(f"[green]✓ approved{escape(by)}{changed}[/]")
        elif decision == "rejected":
            reason = f": {escape(p['reason'])}" if p.get("reason") else ""
            self.line(f"[red]✗ rejected{escape(by)}{reason}[/]")
        else:
            self.line(f"[yellow]⌛ approval {escape(str(decision))}[/]")

    def _on_run_completed(self, event: Event, p: dict[str, Any]) -> None:
        usage = p.get("usage") or {}
        tokens = f"{usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out"
        self.line(f"[dim]── {p['status']} · {tokens} tokens[/]")

    def _on_run_failed(self, event: Event, p: dict[str, Any]) -> None:
        self.line(f"[red]── {p['status']}: {escape(str(p.get('error') or p['stop_reason']))}[/]")

    def _on_run_cancelled(self, event: Event, p: dict[str, Any]) -> None:
        self.line(f"[yellow]── cancelled ({p['stop_reason']})[/]")
