"""A signed POST to a webhook's URL becomes a message to its agent, through
``Runtime.submit`` with trigger ``webhook``: the receipt of its ``webhook-id`` commits with
the message, unique per webhook, so a message is accepted once whatever is replayed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.crypto import SecretBox
from loopwright.db.database import Database
from loopwright.db.repos import webhooks
from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import WebhookRow
from loopwright.errors import Conflict, PayloadTooLarge
from loopwright.runtime import signing
from loopwright.runtime.submit import Prepare, Submission, Submit, Submitted
from loopwright.runtime.trigger_sessions import session_for

_FIELD = re.compile(r"\{body((?:\.[A-Za-z0-9_-]+)*)\}")
MAX_MESSAGE = 100_000


@dataclass(frozen=True, slots=True)
class Accepted:
    run_id: str
    session_id: str


def render(template: str, body: bytes) -> str:
    """The message: the template with ``{body}`` (the body as JSON) and ``{body.a.b}`` (one
    field; text as it is, anything else as JSON) filled in; a missing field is empty. No
    template: the body itself."""
    text = body.decode("utf-8", errors="replace")
    try:
        data: Any = json.loads(text)
    except ValueError:
        data = text
    if not template:
        return text[:MAX_MESSAGE]

    def field(match: re.Match[str]) -> str:
        value = data
        for name in match.group(1).split(".")[1:]:
            value = value.get(name) if isinstance(value, dict) else None
        if value is None:
            return ""
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    return _FIELD.sub(field, template)[:MAX_MESSAGE] or "(empty)"


async def accept(
    db: Database,
    submit: Submit,
    secrets: SecretBox,
    webhook_id: str,
    body: bytes,
    received: dict[str, str],
    *,
    max_bytes: int,
) -> Accepted:
    async with db.read(ALL_STORES) as session:
        hook = await webhooks.find(session, webhook_id)
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"webhook bodies are limited to {max_bytes} bytes")
    message_id = signing.verify(secrets.decrypt(hook.secret_enc), body, received)
    async with db.read(hook.store_id) as session:
        earlier = await webhooks.received(session, hook.id, message_id)
    if earlier is not None:
        raise _replayed(message_id, earlier)
    content = render(hook.template, body)
    chosen: dict[str, str] = {}

    async def prepare(session: AsyncSession) -> Submission:
        chat = await session_for(
            session,
            hook.store_id,
            hook.agent_id,
            policy=hook.session_policy,
            reused=hook.session_id,
            title=f"webhook {hook.name or hook.id}",
        )
        if hook.session_policy == "reuse" and chat != hook.session_id:
            await _remember_session(session, hook, chat)
        chosen["session"] = chat
        return Submission(hook.store_id, chat, content, trigger="webhook")

    async def record(session: AsyncSession, submitted: Submitted) -> None:
        await webhooks.add_receipt(session, hook.store_id, hook.id, message_id, submitted.run.id)

    try:
        submitted = await submit(Prepare(hook.store_id, prepare), record=record)
    except IntegrityError as exc:  # the same id accepted meanwhile (another process)
        raise _replayed(message_id, None) from exc
    return Accepted(run_id=submitted.run.id, session_id=chosen["session"])


async def _remember_session(session: AsyncSession, hook: WebhookRow, chat: str) -> None:
    await webhooks.update_row(session, hook.store_id, hook.id, {"session_id": chat})


def _replayed(message_id: str, run_id: str | None) -> Conflict:
    return Conflict(
        f"webhook message {message_id!r} was accepted before",
        details={"webhook_id": message_id, "run_id": run_id},
    )
