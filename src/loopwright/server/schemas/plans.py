"""Team plans: the planner's plan, its steps with their executors, and token totals."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from loopwright.db.repos.plans import PlanView
from loopwright.db.tables import PlanRow, RunRow
from loopwright.domain.vocabulary import TERMINAL_RUN_STATUSES


class Tokens(BaseModel):
    input_tokens: int
    output_tokens: int

    @classmethod
    def of(cls, runs: list[RunRow]) -> Tokens:
        return cls(
            input_tokens=sum(r.input_tokens for r in runs),
            output_tokens=sum(r.output_tokens for r in runs),
        )


class PlanUsage(BaseModel):
    planner: Tokens
    """The planner's run: routing, planning and the synthesis."""
    executors: Tokens
    """Every executor run of the plan, retries included."""
    total: Tokens


class ExecutorAttempt(BaseModel):
    attempt: int
    run_id: str
    session_id: str
    status: str
    error: str | None
    steps: int
    usage: Tokens


class PlanStepPublic(BaseModel):
    step_id: str
    index: int
    title: str
    instructions: str
    depends_on: list[str]
    tools: list[str]
    status: str
    """pending, running, completed, failed (after its last attempt) or skipped."""
    attempts: int
    executor_run_id: str | None
    """The latest attempt's run: its conversation is its session's, its events carry its id."""
    executor_session_id: str | None
    result: str | None
    error: str | None
    executors: list[ExecutorAttempt]
    usage: Tokens
    created_at: datetime
    finished_at: datetime | None


class PlanSummary(BaseModel):
    id: str
    run_id: str
    goal: str
    reason: str
    status: str
    """running, completed, partial (some steps failed), failed; or the planner run's end
    (cancelled, timed_out…) if it ended before the plan did."""
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, plan: PlanRow, run_status: str | None = None) -> PlanSummary:
        status = plan.status
        if status == "running" and run_status in TERMINAL_RUN_STATUSES:
            status = str(run_status)
        return cls(
            id=plan.id,
            run_id=plan.run_id,
            goal=plan.goal,
            reason=plan.reason,
            status=status,
            created_at=plan.created_at,
            finished_at=plan.finished_at,
        )


class PlanPublic(PlanSummary):
    session_id: str
    steps: list[PlanStepPublic]
    usage: PlanUsage

    @classmethod
    def of_view(cls, view: PlanView) -> PlanPublic:
        summary = PlanSummary.of(view.plan, view.run.status)
        by_step: dict[str, list[RunRow]] = {}
        for run in view.executors:
            key = str((run.team_step or {}).get("step_key"))
            by_step.setdefault(key, []).append(run)
        steps = []
        for row in view.steps:
            attempts = by_step.get(row.key, [])
            latest = attempts[-1] if attempts else None
            steps.append(
                PlanStepPublic(
                    step_id=row.key,
                    index=row.index,
                    title=row.title,
                    instructions=row.description,
                    depends_on=list(row.depends_on),
                    tools=list(row.tools),
                    status=row.status,
                    attempts=row.attempts,
                    executor_run_id=row.executor_run_id,
                    executor_session_id=latest.session_id if latest else None,
                    result=row.result,
                    error=row.error,
                    executors=[
                        ExecutorAttempt(
                            attempt=int((r.team_step or {}).get("attempt", 1)),
                            run_id=r.id,
                            session_id=r.session_id,
                            status=r.status,
                            error=r.error,
                            steps=r.steps,
                            usage=Tokens.of([r]),
                        )
                        for r in attempts
                    ],
                    usage=Tokens.of(attempts),
                    created_at=row.created_at,
                    finished_at=row.finished_at,
                )
            )
        planner, executors = Tokens.of([view.run]), Tokens.of(view.executors)
        total = Tokens.of([view.run, *view.executors])
        return cls(
            **summary.model_dump(),
            session_id=view.run.session_id,
            steps=steps,
            usage=PlanUsage(planner=planner, executors=executors, total=total),
        )
