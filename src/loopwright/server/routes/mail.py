"""Who may e-mail an agent (see ``runtime.mail``): addresses or ``@domain``s."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from loopwright.db.repos import agents, mail
from loopwright.server.auth import Admin, Reader, ServicesDep
from loopwright.server.schemas.common import Input

router = APIRouter(prefix="/v1/stores/{store_id}/agents/{agent_id}/mail-senders", tags=["mail"])

Sender = Annotated[
    str, StringConstraints(min_length=2, max_length=254, pattern=r"^[^@\s]*@[^@\s]+$")
]


class MailSendersSet(Input):
    senders: Annotated[list[Sender], Field(max_length=500)] = Field(
        description="addresses (`ana@example.com`) or domains (`@example.com`); empty: no one"
    )


class MailSenders(BaseModel):
    senders: list[str]


@router.get("")
async def get_mail_senders(agent_id: str, access: Reader, svc: ServicesDep) -> MailSenders:
    async with svc.db.read(access.store_id) as session:
        await agents.get(session, access.store_id, agent_id)
        found = await mail.senders(session, access.store_id, agent_id)
    return MailSenders(senders=found)


@router.put("")
async def set_mail_senders(
    agent_id: str, body: MailSendersSet, access: Admin, svc: ServicesDep
) -> MailSenders:
    async with svc.db.write(access.store_id) as session:
        await agents.get(session, access.store_id, agent_id)
        found = await mail.set_senders(session, access.store_id, agent_id, body.senders)
    return MailSenders(senders=found)
