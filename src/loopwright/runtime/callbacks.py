"""Completion callbacks: a message may name a ``callback_url``; its delivery row commits with
the message (an outbox), and once the run ends a worker POSTs the outcome there, signed the
Standard Webhooks way with the store's secret (``webhook-id`` is the delivery's id, the same
on every attempt, so the receiver can drop repeats). A failed attempt (no answer, or not
2xx) is retried after ``callback_backoff_s`` doubled at each attempt, up to
``callback_attempts``; each attempt is logged on the row. A process leases a delivery for
one attempt, so two workers do not send it at once; a process killed mid-attempt leaves a
lease that expires, and the callback is sent again (at least once)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import smtplib
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import httpx2
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.crypto import SecretBox
from loopwright.db.database import Database
from loopwright.db.repos import conversations, deliveries
from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import DeliveryRow
from loopwright.db.tables.base import utcnow
from loopwright.domain.events import Event
from loopwright.egress import EgressGuard
from loopwright.runtime import signing
from loopwright.runtime.lifecycle import FINAL_EVENT_TYPES
from loopwright.runtime.submit import Record, Submitted
from loopwright.settings import Settings

logger = logging.getLogger("loopwright.callbacks")
SEND_TIMEOUT_S = 15.0
LEASE_S = 2 * SEND_TIMEOUT_S
RETRY_MARGIN_S = 0.05
"""A retry is looked for this long after it falls due (the row's time is the wall clock's)."""
"""How long a process holds a delivery for one attempt: a process that died mid-attempt
leaves it to be taken again after this."""


def _send_mail(relay: str, message: EmailMessage) -> None:
    host, _, port = relay.rpartition(":")
    with smtplib.SMTP(host, int(port), timeout=SEND_TIMEOUT_S) as client:
        client.send_message(message)


def recorder(url: str) -> Record:
    """What ``Runtime.submit`` records with a message that names a callback."""

    async def record(session: AsyncSession, submitted: Submitted) -> None:
        await deliveries.add(session, submitted.run.store_id, submitted.run.id, url)

    return record


async def store_secret(db: Database, secrets: SecretBox, store_id: str) -> str:
    """The store's callback signing secret, made at its first use."""
    async with db.read(store_id) as session:
        found = await deliveries.signing_secret(session, store_id)
    if found is None:
        async with db.write(store_id) as session:
            await deliveries.add_signing_secret(
                session, store_id, secrets.encrypt(signing.new_secret())
            )
            found = await deliveries.signing_secret(session, store_id)
    assert found is not None
    return secrets.decrypt(found)


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        secrets: SecretBox,
        egress: EgressGuard,
        client: httpx2.AsyncClient,
    ) -> None:
        self.settings = settings
        self.db = db
        self.secrets = secrets
        self.egress = egress
        self.client = client
        self._wake = asyncio.Event()
        self._retries: list[float] = []  # when this process's failed attempts fall due

    def notice(self, event: Event) -> None:
        """A hub watcher: a run with a callback ended (here, or in a process whose events
        reach this one: its final event says ``callback``), so the callback is due now; the
        loop looks at once instead of at its next poll. Other runs' ends wake nothing."""
        if event.type in FINAL_EVENT_TYPES and event.payload.get("callback") is True:
            self._wake.set()

    async def run(self) -> None:
        """Look for callbacks to send when a run ends, when an attempt this process made
        falls due again, and every ``callback_poll_s`` (those nothing here woke it for: a run
        whose process died before it sent its callback, another process's retries)."""
        while True:
            self._wake.clear()
            try:
                await self.send_ready()
            except Exception:  # the loop must outlive a bad moment of the database
                logger.exception("callback loop failed")
            await self._until_due()

    async def _until_due(self) -> None:
        now = time.monotonic()
        self._retries = [at for at in self._retries if at > now]
        wait = min([self.settings.callback_poll_s, *(at - now for at in self._retries)])
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._wake.wait()

    async def send_ready(self) -> None:
        now = utcnow()
        async with self.db.read(ALL_STORES) as session:
            ready = await deliveries.ready(session, now)
        for row in ready:
            async with self.db.write(row.store_id) as session:
                mine = await deliveries.lease(
                    session, row.id, now, now + timedelta(seconds=LEASE_S)
                )
            if mine:
                await self.attempt(row)

    async def attempt(self, row: DeliveryRow) -> None:
        if row.url.startswith("mailto:"):
            await self._mail_reply(row)
            return
        body = json.dumps(await self._outcome(row), separators=(",", ":")).encode()
        secret = await store_secret(self.db, self.secrets, row.store_id)
        headers = signing.headers(secret, row.id, utcnow(), body)
        started = time.perf_counter()
        attempt: dict[str, Any] = {"at": utcnow().isoformat(), "status_code": None, "error": None}
        try:
            await self.egress.check_url(row.url)
            response = await self.client.post(
                row.url,
                content=body,
                headers={**headers, "content-type": "application/json"},
                timeout=SEND_TIMEOUT_S,
            )
            attempt["status_code"] = response.status_code
            ok = 200 <= response.status_code < 300
            if not ok:
                attempt["error"] = f"HTTP {response.status_code}"
        except Exception as exc:  # refused by the guard, no answer, a broken connection
            ok = False
            attempt["error"] = f"{type(exc).__name__}: {exc}"[:500]
        attempt["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
        await self._record(row, attempt, ok)

    async def _mail_reply(self, row: DeliveryRow) -> None:
        """The run's answer mailed back to the sender, threaded under the mail it answers."""
        started = time.perf_counter()
        attempt: dict[str, Any] = {"at": utcnow().isoformat(), "status_code": None, "error": None}
        outcome = await self._outcome(row)
        reply = EmailMessage()
        subject = str(row.meta.get("subject", ""))
        reply["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        reply["From"] = str(row.meta.get("from", ""))
        reply["To"] = row.url.removeprefix("mailto:")
        reply["Message-ID"] = make_msgid()
        if row.meta.get("message_id"):
            reply["In-Reply-To"] = str(row.meta["message_id"])
            reply["References"] = str(row.meta["message_id"])
        reply.set_content(outcome["answer"] or f"(the run ended {outcome['run']['status']})")
        try:
            await asyncio.to_thread(_send_mail, self.settings.smtp_relay or "", reply)
            ok = True
            attempt["status_code"] = 250
        except Exception as exc:  # no relay, refused, a broken connection
            ok = False
            attempt["error"] = f"{type(exc).__name__}: {exc}"[:500]
        attempt["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
        await self._record(row, attempt, ok)

    async def _record(self, row: DeliveryRow, attempt: dict[str, Any], ok: bool) -> None:
        now = utcnow()
        done = row.attempts + 1
        status, next_at, delivered = "pending", None, None
        if ok:
            status, delivered = "delivered", now
        elif done >= self.settings.callback_attempts:
            status = "failed"
        else:
            backoff = self.backoff(done)
            next_at = now + timedelta(seconds=backoff)
            self._retries.append(time.monotonic() + backoff + RETRY_MARGIN_S)
        async with self.db.write(row.store_id) as session:
            await deliveries.record_attempt(
                session,
                row.id,
                attempt,
                status=status,
                next_attempt_at=next_at,
                delivered_at=delivered,
            )

    def backoff(self, attempts: int) -> float:
        """``callback_backoff_s`` doubled per failed attempt (at most an hour), +-10%."""
        base = min(3600.0, self.settings.callback_backoff_s * 2.0 ** (attempts - 1))
        return float(base * random.uniform(0.9, 1.1))

    async def _outcome(self, row: DeliveryRow) -> dict[str, Any]:
        async with self.db.read(row.store_id) as session:
            run = await conversations.get_run(session, row.store_id, row.run_id)
            answer = await conversations.last_answer(session, row.store_id, row.run_id)
        finished: datetime | None = run.finished_at
        return {
            "type": f"run.{run.status}",
            "store_id": row.store_id,
            "run": {
                "id": run.id,
                "session_id": run.session_id,
                "agent_id": run.agent_id,
                "status": run.status,
                "stop_reason": run.stop_reason,
                "error": run.error,
                "trigger": run.trigger,
                "steps": run.steps,
                "usage": {"input_tokens": run.input_tokens, "output_tokens": run.output_tokens},
                "finished_at": finished.isoformat() if finished else None,
            },
            "answer": answer,
        }
