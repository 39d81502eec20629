"""E-mail in: a real ``smtplib`` client on loopback. A mail to ``<agent>@<store>.<domain>``
from an allowed sender becomes a run (trigger ``email``) with the subject and text body (HTML
turned into text) and the sender; unknown addresses and senders not allowed are refused at
RCPT with 550; a store's agent cannot be reached through another store's address."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopwright.runtime.mail import html_to_text
from tests.conftest import Live, make_settings, start_server
from tests.procs import OPERATOR_KEY, free_port

DOMAIN = "agents.test"


@pytest.fixture
async def mail_live(tmp_path: Path) -> AsyncIterator[tuple[Live, int]]:
    port = free_port()
    settings = make_settings(tmp_path, smtp_port=port, email_domain=DOMAIN)
    server, task, base_url, app = await start_server(settings)
    operator = httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {OPERATOR_KEY}"}, timeout=30
    )
    try:
        yield Live(base_url=base_url, settings=settings, app=app, http=operator), port
    finally:
        await operator.aclose()
        server.should_exit = True
        await task


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


async def test_mail_becomes_a_run_and_refusals_happen_at_rcpt(
    mail_live: tuple[Live, int],
) -> None:
    live, port = mail_live
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
