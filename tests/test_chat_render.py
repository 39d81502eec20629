"""How the chat shows a run's events: plan progress of a team agent, failed tool calls, and
event types it has no line for (a newer server's) as one generic line."""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console

from loopwright.client.events import UnknownEvent, parse_event
from loopwright.console.approval_prompt import parse
from loopwright.console.render import RunView

NOW = "2026-01-01T00:00:00Z"


def event(seq: int | None, type_: str, payload: dict[str, Any]) -> str:
    body = {"seq": seq, "type": type_, "session_id": "ses_1", "run_id": "run_1"}
    return json.dumps({**body, "created_at": NOW, "payload": payload})


def render(*frames: str) -> str:
    out = io.StringIO()
    view = RunView(Console(file=out, width=200, color_system=None), max_steps=10)
    for frame in frames:
        view.show(parse_event(frame))
    return out.getvalue()


def test_team_plan_progress_and_tool_failures() -> None:
    steps = [
        {"step_id": f"s{i}", "index": i, "title": f"Read {name}", "description": "",
         "depends_on": [], "tools": []}
        for i, name in enumerate(("Home", "Garden"))
    ]  # fmt: skip
    screen = render(
        event(1, "analysis", {"route": "complex", "reason": "two projects", "plan_id": "p"}),
        event(2, "plan.created",
              {"plan_id": "p", "goal": "Compare", "reason": "r", "steps": steps}),
        event(3, "plan.step_started",
              {"plan_id": "p", "step_id": "s0", "executor_run_id": "run_2", "attempt": 1}),
        event(4, "plan.step_completed",
              {"plan_id": "p", "step_id": "s0", "status": "completed", "attempts": 1}),
        event(5, "plan.step_completed",
              {"plan_id": "p", "step_id": "s1", "status": "failed", "attempts": 2}),
        event(6, "tool.failed", {"step": 1, "call_id": "c", "tool": "delete_task", "ok": False,
                                 "outcome": "refused", "result": "not assigned",
                                 "duration_ms": 0.0}),
    )  # fmt: skip
    assert "route: complex" in screen and "plan: Compare (2 steps)" in screen
    assert "○ 1. Read Home" in screen and "○ 2. Read Garden" in screen
    assert "▶ Read Home" in screen
    assert "✓ Read Home completed · 1/2 steps done" in screen
    assert "✗ Read Garden failed · 2/2 steps done" in screen
    assert "✗ delete_task refused not assigned" in screen


def test_text_without_deltas_is_shown_from_the_response_and_steps_count_from_one() -> None:
    screen = render(
        event(None, "llm.reasoning_delta", {"step": 0, "delta": "hmm"}),
        event(None, "llm.text_delta", {"step": 0, "delta": "Hel"}),
        event(7, "llm.response_received", {
            "step": 0, "message_id": "m", "text": "Hello", "tool_calls": [],
            "usage": {"input_tokens": 1, "output_tokens": 1}, "latency_ms": 1.0,
            "provider": "offline"}),
        event(8, "llm.response_received", {
            "step": 1, "message_id": "m2", "text": "Again", "tool_calls": [],
            "usage": {"input_tokens": 1, "output_tokens": 1}, "latency_ms": 1.0,
            "provider": "offline"}),
    )  # fmt: skip
    assert "hmm\nHello\n  (step 1/10)" in screen
    assert "Again\n  (step 2/10)" in screen


def test_unknown_event_types_get_a_generic_line() -> None:
    frame = event(9, "approval.escalated", {"approval_id": "apr_1", "tool": "send_email"})
    assert isinstance(parse_event(frame), UnknownEvent)
    screen = render(frame)
    assert "• approval.escalated approval_id=apr_1  tool=send_email" in screen


def test_approvals_show_the_tool_its_arguments_and_the_decision() -> None:
    requested = {"approval_id": "apr_1", "step": 0, "call_id": "c1", "tool": "create_task",
                 "arguments": {"title": "Buy milk", "description": "two litres"},
                 "expires_at": "2026-01-01T01:00:00Z"}  # fmt: skip
    decided = {"approval_id": "apr_1", "call_id": "c1", "decision": "approved",
               "arguments": None, "reason": None, "decided_by": "key_9"}  # fmt: skip
    screen = render(
        event(3, "approval.requested", requested),
        event(4, "approval.decided", decided),
        event(5, "approval.decided", {**decided, "decision": "rejected", "reason": "not now"}),
        event(6, "approval.decided", {**decided, "decision": "expired", "decided_by": None}),
    )
    assert "⚠ approval needed: create_task\n" in screen
    assert '"title": "Buy milk",\n' in screen and '"description": "two litres"\n' in screen
    assert "approval apr_1 · expires 2026-01-01 01:00:00" in screen
    assert "✓ approved by key_9\n" in screen
    assert "✗ rejected by key_9: not now\n" in screen
    assert "⌛ approval expired\n" in screen


def test_long_arguments_are_cut_to_a_few_lines() -> None:
    arguments = {f"field{i}": i for i in range(30)}
    requested = {"approval_id": "apr_2", "step": 0, "call_id": "c", "tool": "http.post",
                 "arguments": arguments, "expires_at": "2026-01-01T01:00:00Z"}  # fmt: skip
    screen = render(event(1, "approval.requested", requested))
    assert '"field10": 10' in screen and '"field11"' not in screen and "…" in screen


def test_approval_answers_are_understood() -> None:
    assert parse("approve") == ("approve", None) and parse(" A ") == ("approve", None)
    assert parse("reject") == ("reject", None)
    assert parse("r not this week") == ("reject", "not this week")
    assert parse("skip") == ("skip", None)
    assert parse("maybe") is None and parse("approve it") is None and parse("") is None
