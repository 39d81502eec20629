"""What a team planner decides, and the checks its decision must pass.

The planner answers with one call of the ``team_decide`` tool: a route (``simple``: answer
directly; ``tool``: the ordinary loop with the agent's tools; ``complex``: a plan), the reason,
and for ``complex`` the plan. A decision that fails a check goes back to the model as the
tool's error, which says what to fix.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic_ai import ToolDefinition

DECIDE_TOOL: Final = "team_decide"
MAX_PLAN_STEPS: Final = 8
Route = Literal["simple", "tool", "complex"]

StepKey = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
]


class StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: StepKey = Field(description="a short name for the step, unique in the plan (s1, s2…)")
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    instructions: Annotated[str, StringConstraints(min_length=1, max_length=10_000)] = Field(
        description="what the executor must find out; it sees the results of its dependencies"
    )
    depends_on: list[StepKey] = Field(
        default=[], max_length=MAX_PLAN_STEPS, description="ids of steps whose results it needs"
    )
    tools: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default=[],
        max_length=50,
        description="the read-only tools the executor may use (empty: all of them)",
    )


class PlanSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    goal: Annotated[str, StringConstraints(max_length=2000)] = ""
    steps: list[StepSpec] = Field(min_length=1, max_length=MAX_PLAN_STEPS)


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    route: Route = Field(
        description="simple: answer directly without tools; tool: use your tools yourself; "
        "complex: a plan of steps for read-only executors"
    )
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    plan: PlanSpec | None = Field(None, description="required for complex, absent otherwise")


DECIDE_DEFINITION = ToolDefinition(
    name=DECIDE_TOOL,
    description=(
        "Decide how to handle the user's message: call this once, before anything else you "
        "answer. For complex work give a plan of independent or dependent steps; each step is "
        "done by an executor that may only read."
    ),
    parameters_json_schema=Decision.model_json_schema(),
)

PLANNER_INSTRUCTIONS = f"""\
You are the planner of a team. First classify the user's latest message by calling the \
{DECIDE_TOOL} tool: "simple" if you can answer directly, "tool" if you need your own tools, \
"complex" if it needs several pieces of research that read-only executors can do (in \
parallel when they are independent). You may look things up with your read-only tools before \
you decide. For "complex" give a plan of at most {MAX_PLAN_STEPS} steps."""

SYNTHESIS_INSTRUCTIONS = """\
The executors have finished the plan. Write the final answer to the user's message from the \
steps' results below. If a step failed or was skipped, say so and what is missing because \
of it."""


def check_decision(
    arguments: dict[str, Any], *, executor_tools: Collection[str], step_budget: int
) -> Decision | str:
    """The decision, or what is wrong with it (for the model to correct)."""
    try:
        decision = Decision.model_validate(arguments)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'arguments'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        return f"the decision does not match the schema: {problems}"
    if decision.route != "complex":
        if decision.plan is not None:
            return f'a plan is only given with route "complex", not "{decision.route}"'
        return decision
    if decision.plan is None:
        return 'route "complex" needs a plan'
    problem = _plan_problem(decision.plan, executor_tools, step_budget)
    return decision if problem is None else problem


def _plan_problem(plan: PlanSpec, executor_tools: Collection[str], step_budget: int) -> str | None:
    keys = [step.id for step in plan.steps]
    if len(set(keys)) != len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        return f"step ids must be unique: {', '.join(twice)} used more than once"
    if len(keys) > step_budget:
        return (
            f"the plan has {len(keys)} steps but the run has model steps left for at most "
            f"{step_budget}: merge steps"
        )
    known = set(keys)
    for step in plan.steps:
        unknown = [d for d in step.depends_on if d not in known]
        if unknown:
            return f"step {step.id!r} depends on unknown steps: {', '.join(unknown)}"
        if step.id in step.depends_on:
            return f"step {step.id!r} depends on itself"
        tools = [t for t in step.tools if t not in executor_tools]
        if tools:
            offered = ", ".join(sorted(executor_tools)) or "none"
            return (
                f"step {step.id!r} names tools the executors cannot use: {', '.join(tools)} "
                f"(their read-only tools: {offered})"
            )
    cycle = _cycle(plan)
    if cycle:
        return f"the dependencies form a cycle: {' -> '.join(cycle)}"
    return None


def _cycle(plan: PlanSpec) -> list[str]:
    """One dependency cycle (its keys, the first repeated at the end), or []."""
    deps = {step.id: step.depends_on for step in plan.steps}
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(key: str) -> list[str]:
        state[key] = 1
        path.append(key)
        for dep in deps[key]:
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        path.pop()
        state[key] = 2
        return []

    for key in deps:
        if key not in state and (found := visit(key)):
            return found
    return []
