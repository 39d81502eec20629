"""The planner's decision checks and the share of model steps executors get (no server)."""

from __future__ import annotations

from typing import Any

import pytest

from loopwright.engine.team import StepState, executor_budget, plan_status, results_text
from loopwright.engine.team_plan import MAX_PLAN_STEPS, Decision, check_decision
from loopwright.runtime.team_plans import executor_deadline


def steps(*specs: tuple[str, list[str]], tools: list[str] | None = None) -> dict[str, Any]:
    return {
        "steps": [
            {"id": k, "title": k, "instructions": k, "depends_on": d, "tools": tools or []}
            for k, d in specs
        ]
    }


def check(arguments: dict[str, Any], budget: int = 10) -> Decision | str:
    return check_decision(arguments, executor_tools={"list_tasks"}, step_budget=budget)


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"route": "complex", "reason": "r"}, 'route "complex" needs a plan'),
        ({"route": "simple", "reason": "r", "plan": steps(("a", []))}, "only given with route"),
        ({"route": "maybe", "reason": "r"}, "route: Input should be"),
        ({"route": "simple"}, "reason: Field required"),
        ({"route": "complex", "reason": "r", "plan": {"steps": []}}, "plan.steps"),
        (
            {"route": "complex", "reason": "r", "plan": steps(("a", []), ("a", []))},
            "unique: a used more than once",
        ),
        (
            {"route": "complex", "reason": "r", "plan": steps(("a", ["zz"]))},
            "depends on unknown steps: zz",
        ),
        ({"route": "complex", "reason": "r", "plan": steps(("a", ["a"]))}, "depends on itself"),
        (
            {
                "route": "complex",
                "reason": "r",
                "plan": steps(("a", ["c"]), ("b", ["a"]), ("c", ["b"])),
            },
            "cycle: a -> c -> b -> a",
        ),
        (
            {"route": "complex", "reason": "r", "plan": steps(("a", []), tools=["create_task"])},
            "cannot use: create_task (their read-only tools: list_tasks)",
        ),
    ],
)
def test_a_bad_decision_says_what_is_wrong(arguments: dict[str, Any], says: str) -> None:
    problem = check(arguments)
    assert isinstance(problem, str) and says in problem, problem


def test_a_plan_is_bounded_by_the_steps_left() -> None:
    plan = steps(*((f"s{i}", []) for i in range(3)))
    assert isinstance(check({"route": "complex", "reason": "r", "plan": plan}, budget=3), Decision)
    problem = check({"route": "complex", "reason": "r", "plan": plan}, budget=2)
    assert isinstance(problem, str) and "at most 2" in problem
    too_many = steps(*((f"s{i}", []) for i in range(MAX_PLAN_STEPS + 1)))
    assert isinstance(check({"route": "complex", "reason": "r", "plan": too_many}, 99), str)
    # max_steps 15, decided at request 0: 13 steps for executors, one left for the synthesis
    assert executor_budget(15, 1) == 13


def test_a_valid_plan_with_dependencies() -> None:
    plan = steps(("a", []), ("b", []), ("c", ["a", "b"]))
    decision = check({"route": "complex", "reason": "r", "plan": plan})
    assert isinstance(decision, Decision) and decision.plan is not None
    assert [s.depends_on for s in decision.plan.steps] == [[], [], ["a", "b"]]


def state(key: str, status: Any, attempts: int = 1, **more: Any) -> StepState:
    fields: dict[str, Any] = {
        "key": key,
        "title": f"step {key}",
        "instructions": "",
        "depends_on": (),
        "tools": (),
        "status": status,
        "attempts": attempts,
        "executor_run_id": None,
        "executor_status": None,
        "result": None,
        "error": None,
        **more,
    }
    return StepState(**fields)


def test_failed_and_skipped_steps_are_reported() -> None:
    done = state("a", "completed", result="42")
    failed = state("b", "failed", attempts=2, error="boom")
    skipped = state("c", "skipped", attempts=0, error="step 'b' it depends on failed")
    text = results_text([done, failed, skipped])
    assert "1. step a (completed):\n42" in text
    assert "2. step b (failed after 2 attempts): boom" in text
    assert "3. step c (skipped): step 'b' it depends on failed" in text
    assert plan_status([done, failed]) == "partial"
    assert plan_status([done]) == "completed" and plan_status([failed]) == "failed"


def test_the_planner_keeps_time_to_write_its_answer() -> None:
    """Executors end before their planner: a tenth of the time left, but at least a second
    (a quarter of a short run), at most five."""
    assert executor_deadline(104.0, 100.0) == 103.0  # 4 s left: 1 s kept, not 0.4
    assert executor_deadline(102.0, 100.0) == 101.5  # 2 s left: a quarter
    assert executor_deadline(130.0, 100.0) == 127.0  # a tenth
    assert executor_deadline(200.0, 100.0) == 195.0  # at most five seconds
