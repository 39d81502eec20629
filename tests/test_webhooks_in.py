"""Inbound webhooks: the Standard Webhooks reference vector, and signed POSTs to a real
server that become runs (trigger ``webhook``): wrong or missing signature 401, stale
timestamp 401, replayed id 409, oversized body 413, never accepted twice; the run goes to the
webhook's own store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from loopwright.runtime import inbound, signing
from tests.conftest import Live, Store

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL

# The reference vector of the Standard Webhooks specification's libraries.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = datetime.fromtimestamp(1614265330, UTC)
PAYLOAD = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signing_matches_the_reference_vector() -> None:
    found = signing.headers(SECRET, MSG_ID, TIMESTAMP, PAYLOAD)
    assert found == {
        "webhook-id": MSG_ID,
        "webhook-timestamp": "1614265330",
        "webhook-signature": SIGNATURE,
    }


def test_templates_fill_in_body_fields() -> None:
    body = json.dumps({"issue": {"title": "Broken", "n": 7}, "who": "ana"}).encode()
    assert inbound.render("", body) == body.decode()
    assert inbound.render("{body.who}: {body.issue.title} #{body.issue.n}", body) == (
        "ana: Broken #7"
    )
    assert inbound.render("{body.missing.x}!", body) == "!"
    assert inbound.render("raw {body}", b"not json") == "raw not json"


def signed(secret: str, body: bytes, **changes: Any) -> dict[str, str]:
    when = changes.pop("when", datetime.now(UTC))
    found = signing.headers(secret, changes.pop("msg_id", f"msg_{when.timestamp()}"), when, body)
    return {**found, **changes, "content-type": "application/json"}


async def _hook(store: Store, **fields: Any) -> dict[str, Any]:
    agent = await store.agent()
    r = await store.admin.post(
        f"{store.path}/webhooks",
        json={"agent_id": agent["id"], "template": "Issue: {body.title}", **fields},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_a_signed_post_becomes_a_run_once(any_live: Live) -> None:
    store = await any_live.new_store()
    hook = await _hook(store, name="tracker")
    assert hook["secret"].startswith("whsec_") and hook["url"].endswith(f"/hooks/{hook['id']}")
    listed = (await store.admin.get(f"{store.path}/webhooks/{hook['id']}")).json()
    assert "secret" not in listed  # shown once
    body = json.dumps({"title": "Printer on fire"}).encode()
    headers = signed(hook["secret"], body, msg_id="msg_1")
    async with httpx.AsyncClient(base_url=any_live.base_url, timeout=30) as sender:
        url = f"/hooks/{hook['id']}"
        r = await sender.post(url, content=body, headers=headers)
        assert r.status_code == 202, r.text
        run_id = r.json()["run_id"]
        replay = await sender.post(url, content=body, headers=headers)
        assert replay.status_code == 409, replay.text
        assert replay.json()["error"]["code"] == "conflict"

        missing = await sender.post(url, content=body)
        assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthenticated"
        wrong = signed("whsec_" + "A" * 44, body, msg_id="msg_2")
        assert (await sender.post(url, content=body, headers=wrong)).status_code == 401
        tampered = signed(hook["secret"], body, msg_id="msg_3")
        assert (await sender.post(url, content=body + b" ", headers=tampered)).status_code == 401
        stale = signed(
            hook["secret"], body, msg_id="msg_4", when=datetime.now(UTC) - timedelta(minutes=10)
        )
        assert (await sender.post(url, content=body, headers=stale)).status_code == 401
        big = b"x" * 300_000
        r = await sender.post(url, content=big, headers=signed(hook["secret"], big, msg_id="m5"))
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
        unknown = await sender.post("/hooks/whk_nope", content=body, headers=headers)
        assert unknown.status_code == 404

    run = (await store.admin.get(f"{store.path}/runs/{run_id}")).json()
    assert run["trigger"] == "webhook"
    messages = (await store.admin.get(f"{store.path}/sessions/{run['session_id']}/messages")).json()
    assert messages["items"][0]["content"] == "Issue: Printer on fire"
    receipts = (await store.admin.get(f"{store.path}/webhooks/{hook['id']}/receipts")).json()
    assert [(r["message_id"], r["run_id"]) for r in receipts["items"]] == [("msg_1", run_id)]
    runs = (await store.admin.get(f"{store.path}/runs", params={"limit": 200})).json()["items"]
    assert [r["id"] for r in runs if r["trigger"] == "webhook"] == [run_id]


async def test_webhooks_stay_in_their_store(live: Live) -> None:
    owner = await live.new_store()
    other = await live.new_store()
    hook = await _hook(owner)
    path = f"{owner.path}/webhooks/{hook['id']}"
    assert (await other.admin.get(path.replace(owner.path, other.path))).status_code == 404
    foreign_agent = (await owner.admin.get(f"{owner.path}/agents")).json()["items"][0]["id"]
    r = await other.admin.post(f"{other.path}/webhooks", json={"agent_id": foreign_agent})
    assert r.status_code == 404  # no webhook of one store can start another store's agent
    body = b'{"title": "x"}'
    async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as sender:
        r = await sender.post(
            f"/hooks/{hook['id']}", content=body, headers=signed(hook["secret"], body)
        )
    assert r.status_code == 202
    other_runs = (await other.admin.get(f"{other.path}/runs")).json()["items"]
    assert other_runs == []
    assert (await owner.admin.get(f"{owner.path}/runs/{r.json()['run_id']}")).status_code == 200
