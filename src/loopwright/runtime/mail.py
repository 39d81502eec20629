"""A mail to ``<agent>@<store>.<domain>`` becomes a message to that agent (trigger
``email``): its subject and text body (HTML turned into text), with the sender recorded in
the message and the session's title. Whether a recipient or sender is refused is decided
here, so the SMTP listener can refuse at ``RCPT`` time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from html.parser import HTMLParser

from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.database import Database
from loopwright.db.repos import deliveries, mail
from loopwright.runtime.submit import Prepare, Submission, Submit, Submitted
from loopwright.runtime.trigger_sessions import session_for

MAX_MESSAGE = 100_000


@dataclass(frozen=True, slots=True)
class Route:
    store_id: str
    agent_id: str


class Refused(Exception):
    """An SMTP reply that refuses: ``code`` and its text."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


NO_MAILBOX = "550 5.1.1 No such mailbox"
NOT_ALLOWED = "550 5.7.1 Sender not allowed to mail this agent"


async def route(db: Database, domain: str, recipient: str, sender: str) -> Route:
    """The agent a recipient names, if the sender may mail it; ``Refused`` otherwise."""
    local, _, host = recipient.strip("<>").rpartition("@")
    suffix = "." + domain.lower()
    host = host.lower()
    if not local or not host.endswith(suffix):
        raise Refused(NO_MAILBOX)
    store_id = host[: -len(suffix)]
    async with db.read(store_id) as session:
        agent = await mail.agent_for(session, store_id, local)
        if agent is None:
            raise Refused(NO_MAILBOX)
        allowed = await mail.senders(session, store_id, agent.id)
    if not sender_allowed(sender, allowed):
        raise Refused(NOT_ALLOWED)
    return Route(store_id, agent.id)


def sender_allowed(sender: str, allowed: list[str]) -> bool:
    address = parseaddr(sender)[1].lower()
    if "@" not in address:
        return False
    domain = "@" + address.rpartition("@")[2]
    return any(entry.lower() in (address, domain) for entry in allowed)


def content_of(raw: bytes, sender: str) -> tuple[str, str]:
    """``(subject, message)`` of a mail."""
    parsed = parse(raw)
    subject = str(parsed.get("subject", "")).strip()
    body = ""
    part = parsed.get_body(preferencelist=("plain", "html"))
    if part is not None:
        text = part.get_content() if isinstance(part, EmailMessage) else ""
        body = html_to_text(text) if part.get_content_type() == "text/html" else text
    message = f"E-mail from {sender}\nSubject: {subject}\n\n{body.strip()}"
    return subject, message[:MAX_MESSAGE]


def parse(raw: bytes) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


class _Text(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = re.sub(r"[ \t]+", " ", "".join(parser.out))
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()


async def deliver(
    submit: Submit, target: Route, sender: str, raw: bytes, *, reply_from: str | None
) -> Submitted:
    """The mail as a message; with ``reply_from`` (a relay is configured) the answer is mailed
    back to the sender when the run ends, through the callbacks' outbox."""
    subject, message = content_of(raw, sender)
    record = None
    if reply_from is not None:
        thread = {
            "message_id": str(parse(raw).get("message-id", "")).strip(),
            "subject": subject,
            "from": reply_from,
        }

        async def record(session: AsyncSession, submitted: Submitted) -> None:
            await deliveries.add(
                session, target.store_id, submitted.run.id, f"mailto:{sender}", thread
            )

    async def prepare(session: AsyncSession) -> Submission:
        chat = await session_for(
            session,
            target.store_id,
            target.agent_id,
            policy="new",
            reused=None,
            title=f"e-mail from {sender}: {subject}",
        )
        return Submission(target.store_id, chat, message, trigger="email")

    return await submit(Prepare(target.store_id, prepare), record=record)
