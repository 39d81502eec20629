"""The SMTP listener (aiosmtpd on the server's loop; off unless ``smtp_port`` is set): a mail
to an unknown address or from a sender the agent does not allow is refused at ``RCPT``; an
accepted one becomes a message per recipient (``runtime.mail``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from loopwright.db.database import Database
from loopwright.runtime import mail
from loopwright.runtime.submit import Submit
from loopwright.settings import Settings

logger = logging.getLogger("loopwright.smtp")


class Handler:
    def __init__(self, db: Database, submit: Submit, domain: str, *, replies: bool) -> None:
        self.db = db
        self.submit = submit
        self.domain = domain
        self.replies = replies

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        try:
            await mail.route(self.db, self.domain, address, envelope.mail_from or "")
        except mail.Refused as refused:
            return refused.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        sender = envelope.mail_from or ""
        try:
            for address in envelope.rcpt_tos:
                target = await mail.route(self.db, self.domain, address, sender)
                reply_from = address.strip("<>") if self.replies else None
                await mail.deliver(self.submit, target, sender, raw, reply_from=reply_from)
        except mail.Refused as refused:  # the agent changed since RCPT
            return refused.reply
        except Exception:
            logger.exception("a mail could not be delivered")
            return "451 4.3.0 Try again later"
        return "250 Message accepted"


async def start(settings: Settings, db: Database, submit: Submit) -> asyncio.Server | None:
    if settings.smtp_port is None:
        return None
    loop = asyncio.get_running_loop()
    handler = Handler(db, submit, settings.email_domain, replies=settings.smtp_relay is not None)

    def protocol() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=settings.max_body_bytes,
            hostname=settings.email_domain,
            loop=loop,
        )

    return await loop.create_server(protocol, settings.smtp_host, settings.smtp_port)
