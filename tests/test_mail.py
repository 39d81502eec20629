"""E-mail in: a real ``smtplib`` client on loopback. A mail to ``<agent>@<store>.<domain>``
from an allowed sender becomes a run (trigger ``email``) with the subject and text body (HTML
turned into text) and the sender; unknown addresses and senders not allowed are refused at
RCPT with 550; a store's agent cannot be reached through another store's address."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import SMTP

from loopwright.runtime.mail import html_to_text
from tests.conftest import Live, make_settings
from tests.procs import OPERATOR_KEY, STARTED, ServerProcess, free_port

DOMAIN = "agents.test"


class Relay:
    """An SMTP server on loopback standing for the operator's relay: keeps what it is sent."""

    def __init__(self) -> None:
        self.got: list[bytes] = []
        self.arrived = asyncio.Event()

    async def reply_to(self, message_id: str) -> EmailMessage:
        """The reply threaded under ``message_id`` (other tests' replies come here too)."""
        while True:
            self.arrived.clear()  # before looking: an arrival while looking wakes the wait
            for raw in self.got:
                found = BytesParser(policy=policy.default).parsebytes(raw)
                if found["In-Reply-To"] == message_id:
                    assert isinstance(found, EmailMessage)
                    return found
            await self.arrived.wait()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.got.append(envelope.original_content or b"")
        self.arrived.set()
        return "250 OK"


@dataclass
class MailServer:
    live: Live
    port: int
    relay: Relay


@pytest.fixture(scope="module")
async def mail_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MailServer]:
    """A server process with its SMTP listener on, and a relay on loopback for its replies
    (a process of its own: DBOS is one per process, and the session's server has it here)."""
    relay = Relay()
    loop = asyncio.get_running_loop()
    relay_server = await loop.create_server(lambda: SMTP(relay, loop=loop), "127.0.0.1", 0)
    relay_port = relay_server.sockets[0].getsockname()[1]
    port = free_port()
    data_dir = tmp_path_factory.mktemp("mail")
    server = ServerProcess(
        data_dir,
        {
            "LOOPWRIGHT_SMTP_PORT": str(port),
            "LOOPWRIGHT_EMAIL_DOMAIN": DOMAIN,
            "LOOPWRIGHT_SMTP_RELAY": f"127.0.0.1:{relay_port}",
        },
    )
    await server.start()
    STARTED.remove(server)  # lives for the module, stopped below
    operator = httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {OPERATOR_KEY}"}, timeout=30
    )
    try:
        live = Live(
            base_url=server.base_url, settings=make_settings(data_dir), app=None, http=operator
        )
        yield MailServer(live, port, relay)
    finally:
        await operator.aclose()
        await server.stop()
        relay_server.close()


def send(port: int, sender: str, to: str, message: EmailMessage) -> dict[str, Any]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        return dict(client.send_message(message, from_addr=sender, to_addrs=[to]))


def mail(subject: str, text: str, html: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "ana@example.com"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def test_html_becomes_text() -> None:
    html = "<html><head><style>p{}</style></head><body><p>Hello&amp;bye</p><p>two</p></body>"
    assert html_to_text(html) == "Hello&bye\n\ntwo"


async def test_mail_becomes_a_run_and_refusals_happen_at_rcpt(mail_server: MailServer) -> None:
    live, port = mail_server.live, mail_server.port
    store = await live.new_store()
    other = await live.new_store()
    agent = await store.agent(name="Helper")
    r = await store.admin.put(
        f"{store.path}/agents/{agent['id']}/mail-senders", json={"senders": ["@example.com"]}
    )
    assert r.status_code == 200, r.text
    address = f"helper@{store.id}.{DOMAIN}"

    refused = await asyncio.to_thread(
        send, port, "ana@example.com", address, mail("Invoice", "Please pay", "<p>x</p>")
    )
    assert refused == {}
    sessions = (await store.admin.get(f"{store.path}/sessions")).json()["items"]
    assert len(sessions) == 1 and "ana@example.com" in sessions[0]["title"]
    runs = (await store.admin.get(f"{store.path}/runs")).json()["items"]
    assert [r["trigger"] for r in runs] == ["email"]
    messages = (await store.admin.get(f"{store.path}/sessions/{sessions[0]['id']}/messages")).json()
    content = messages["items"][0]["content"]
    assert "ana@example.com" in content and "Invoice" in content and "Please pay" in content

    html_only = EmailMessage()
    html_only["Subject"] = "Styled"
    html_only.set_content("<p>Only <b>html</b></p>", subtype="html")
    await asyncio.to_thread(send, port, "bo@example.com", address, html_only)
    runs = (await store.admin.get(f"{store.path}/runs")).json()["items"]
    assert len(runs) == 2

    cases = [
        ("eve@evil.test", address, 550),  # sender not allowed
        ("ana@example.com", f"nobody@{store.id}.{DOMAIN}", 550),  # no such agent
        ("ana@example.com", f"helper@{other.id}.{DOMAIN}", 550),  # the other store has none
        ("ana@example.com", "helper@elsewhere.test", 550),  # not our domain
    ]
    for sender, to, code in cases:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            await asyncio.to_thread(send, port, sender, to, mail("x", "y"))
        assert caught.value.recipients[to][0] == code
    assert len((await store.admin.get(f"{store.path}/runs")).json()["items"]) == 2
    assert (await other.admin.get(f"{other.path}/runs")).json()["items"] == []
    messages = (await store.admin.get(f"{store.path}/runs")).json()["items"]
    sessions = (await store.admin.get(f"{store.path}/sessions")).json()["items"]
    texts = []
    for chat in sessions:
        items = (await store.admin.get(f"{store.path}/sessions/{chat['id']}/messages")).json()
        texts.append(items["items"][0]["content"])
    assert any("Only html" in t and "<b>" not in t for t in texts)
    assert messages


async def test_the_answer_is_mailed_back_in_the_thread(mail_server: MailServer) -> None:
    live, port, relay = mail_server.live, mail_server.port, mail_server.relay
    store = await live.new_store()
    agent = await store.agent(name="helper")
    await store.admin.put(
        f"{store.path}/agents/{agent['id']}/mail-senders", json={"senders": ["ana@example.com"]}
    )
    message = mail("Invoice", "hello there")
    message["Message-ID"] = "<thread-1@example.com>"
    await asyncio.to_thread(send, port, "ana@example.com", f"helper@{store.id}.{DOMAIN}", message)
    reply = await asyncio.wait_for(relay.reply_to("<thread-1@example.com>"), 60)
    assert reply["In-Reply-To"] == "<thread-1@example.com>"
    assert reply["Subject"] == "Re: Invoice"
    assert reply["To"] == "ana@example.com"
    assert reply["From"] == f"helper@{store.id}.{DOMAIN}"
    body = reply.get_body()
    assert body is not None and str(body.get_content()).strip()
    log = (await store.admin.get(f"{store.path}/deliveries")).json()["items"]
    assert log[0]["url"] == "mailto:ana@example.com"
