"""An agent's mailbox from the API: the same way in as another agent's ``send_message``
without ``wait`` (a mailbox session for the sender ``api``, the message's priority)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.repos import agents
from loopwright.domain.vocabulary import Priority
from loopwright.runtime.agent_messages import mailbox_session
from loopwright.runtime.submit import Prepare, Submission
from loopwright.server.auth import Member, ServicesDep
from loopwright.server.openapi import declared
from loopwright.server.schemas.common import Input
from loopwright.server.schemas.conversations import MessagePublic, RunPublic, SentMessage

router = APIRouter(prefix="/v1/stores/{store_id}/agents/{agent_id}/mailbox", tags=["agents"])


class MailboxMessage(Input):
    content: Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
    priority: Priority = "normal"


@router.post(
    "",
    status_code=202,
    response_model=SentMessage,
    responses=declared(409, "The agent is disabled."),
)
async def send_to_mailbox(
    agent_id: str, body: MailboxMessage, access: Member, svc: ServicesDep
) -> JSONResponse:
    """Queued in the agent's mailbox (taken one at a time, highest priority first)."""

    async def prepare(session: AsyncSession) -> Submission:
        await agents.get(session, access.store_id, agent_id)
        chat = await mailbox_session(session, access.store_id, agent_id, "api")
        return Submission(access.store_id, chat, body.content, priority=body.priority)

    submitted = await svc.runtime.submit(Prepare(access.store_id, prepare))
    sent = SentMessage(message=MessagePublic.of(submitted.message), run=RunPublic.of(submitted.run))
    return JSONResponse(sent.model_dump(mode="json"), status_code=202)
