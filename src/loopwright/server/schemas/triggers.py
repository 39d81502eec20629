"""Schedules, inbound webhooks and completion-callback deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import MISSING, BaseModel, Field, StringConstraints

from loopwright.db.tables import DeliveryRow, ScheduleFireRow, ScheduleRow, WebhookRow
from loopwright.server.schemas.common import Input, Output

AgentId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Cron = Annotated[str, StringConstraints(min_length=1, max_length=100)]
TimeZone = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Message = Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
SessionPolicy = Literal["new", "reuse"]
MissedPolicy = Literal["skip", "run_once"]


class ScheduleCreate(Input):
    agent_id: AgentId
    cron: Cron = Field(description="5 fields (minute first) or 6 (seconds first)")
    timezone: TimeZone = Field(default="UTC", description="an IANA time zone")
    message: Message
    session_policy: SessionPolicy = Field(
        default="new", description="`new`: a session per fire; `reuse`: one session for all"
    )
    missed_policy: MissedPolicy = Field(
        default="skip",
        description="a fire missed while the server was down: `skip` it, or `run_once` for "
        "all the missed ones",
    )
    enabled: bool = True


class ScheduleUpdate(Input):
    """A field left out is left as it is."""

    cron: Cron | MISSING = MISSING
    timezone: TimeZone | MISSING = MISSING
    message: Message | MISSING = MISSING
    session_policy: SessionPolicy | MISSING = MISSING
    missed_policy: MissedPolicy | MISSING = MISSING
    enabled: bool | MISSING = MISSING


class CronPreviewRequest(Input):
    cron: Cron
    timezone: TimeZone = "UTC"
    count: Annotated[int, Field(ge=1, le=50)] = 5


class CronPreview(BaseModel):
    times: list[datetime] = Field(description="the next fire times, in UTC")


class SchedulePublic(Output):
    id: str
    agent_id: str
    cron: str
    timezone: str
    message: str
    session_policy: str
    session_id: str | None
    missed_policy: str
    enabled: bool
    next_due_at: datetime | None
    last_run_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: ScheduleRow) -> SchedulePublic:
        return cls.model_validate(row)


class ScheduleFirePublic(Output):
    id: str
    schedule_id: str
    due_at: datetime
    fired_at: datetime
    status: str = Field(description="`started`, `skipped` (missed) or `failed`")
    run_id: str | None
    session_id: str | None
    error: str | None

    @classmethod
    def of(cls, row: ScheduleFireRow) -> ScheduleFirePublic:
        return cls.model_validate(row)


class WebhookCreate(Input):
    agent_id: AgentId
    name: Annotated[str, StringConstraints(max_length=100)] = ""
    template: Annotated[str, StringConstraints(max_length=10_000)] = Field(
        default="",
        description="the message made of the JSON body: `{body}` is the whole body, "
        "`{body.a.b}` one field; empty: the body as JSON",
    )
    session_policy: SessionPolicy = "new"
    enabled: bool = True


class WebhookUpdate(Input):
    name: Annotated[str, StringConstraints(max_length=100)] | MISSING = MISSING
    template: Annotated[str, StringConstraints(max_length=10_000)] | MISSING = MISSING
    session_policy: SessionPolicy | MISSING = MISSING
    enabled: bool | MISSING = MISSING


class WebhookPublic(Output):
    id: str
    agent_id: str
    name: str
    template: str
    session_policy: str
    enabled: bool
    url: str = Field(description="where to POST, signed the Standard Webhooks way")
    created_at: datetime

    @classmethod
    def of(cls, row: WebhookRow, url: str) -> WebhookPublic:
        return cls(
            id=row.id,
            agent_id=row.agent_id,
            name=row.name,
            template=row.template,
            session_policy=row.session_policy,
            enabled=row.enabled,
            url=url,
            created_at=row.created_at,
        )


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="`whsec_…`: shown once, here")


class WebhookAccepted(BaseModel):
    run_id: str
    session_id: str


class WebhookReceiptPublic(Output):
    id: str
    webhook_id: str
    message_id: str = Field(description="the sender's `webhook-id`")
    run_id: str | None
    received_at: datetime


class DeliveryPublic(Output):
    id: str
    run_id: str
    url: str
    status: str = Field(description="`waiting` (the run goes on), `pending`, `delivered`, `failed`")
    attempts: int
    next_attempt_at: datetime | None
    attempts_log: list[dict[str, Any]]
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: DeliveryRow) -> DeliveryPublic:
        return cls.model_validate(row)


class SigningSecret(BaseModel):
    secret: str = Field(description="`whsec_…`: verifies the store's completion callbacks")
