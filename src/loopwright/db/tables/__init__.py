"""All tables, one module per aggregate; importing this package registers them on ``Base``."""

from loopwright.db.tables.agents import AgentRow
from loopwright.db.tables.base import Base
from loopwright.db.tables.conversations import (
    MessageRow,
    RunRow,
    RunStepRow,
    SessionRow,
    ToolCallRow,
)
from loopwright.db.tables.events import EventRow
from loopwright.db.tables.guardrails import ApprovalRow, UsageCounterRow
from loopwright.db.tables.integrations import HttpToolRow, McpServerRow, ScheduleRow, WebhookRow
from loopwright.db.tables.memory import MemoryRow, MemorySuggestionRow
from loopwright.db.tables.planning import PlanRow, PlanStepRow
from loopwright.db.tables.tenancy import ApiKeyRow, ProviderRow, StoreRow
from loopwright.db.tables.triggers import (
    AgentMessageRow,
    DeliveryRow,
    MailboxRow,
    MailSendersRow,
    ScheduleFireRow,
    SigningKeyRow,
    WebhookReceiptRow,
)
from loopwright.db.tables.workers import WorkerRow
from loopwright.db.tables.workspace import DocumentRow, ProjectRow, TaskRow

__all__ = [
    "AgentMessageRow",
    "AgentRow",
    "ApiKeyRow",
    "ApprovalRow",
    "Base",
    "DeliveryRow",
    "DocumentRow",
    "EventRow",
    "HttpToolRow",
    "MailSendersRow",
    "MailboxRow",
    "McpServerRow",
    "MemoryRow",
    "MemorySuggestionRow",
    "MessageRow",
    "PlanRow",
    "PlanStepRow",
    "ProjectRow",
    "ProviderRow",
    "RunRow",
    "RunStepRow",
    "ScheduleFireRow",
    "ScheduleRow",
    "SessionRow",
    "SigningKeyRow",
    "StoreRow",
    "TaskRow",
    "ToolCallRow",
    "UsageCounterRow",
    "WebhookReceiptRow",
    "WebhookRow",
    "WorkerRow",
]
