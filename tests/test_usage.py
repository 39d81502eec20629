"""The usage endpoint: runs, tokens and errors over time from real runs of the offline agent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Live, Store

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL


async def send(store: Store, session_id: str, content: str) -> dict[str, Any]:
    r = await store.admin.post(
        f"{store.path}/sessions/{session_id}/messages", json={"content": content, "wait": True}
    )
    assert r.status_code == 200, r.text
    return dict(r.json()["run"])


async def usage(store: Store, **params: str) -> dict[str, Any]:
    r = await store.admin.get(f"{store.path}/usage", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def failing_agent(store: Store) -> dict[str, Any]:
    """An agent whose provider is gone: its runs fail before any model step."""
    r = await store.admin.post(f"{store.path}/providers", json={"name": "gone", "kind": "openai"})
    assert r.status_code == 201, r.text
    agent = await store.agent(name="doomed", model="gone:m")
    assert (await store.admin.delete(f"{store.path}/providers/{r.json()['id']}")).status_code == 204
    return agent


def by_label(body: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    return {s["label"]: s for s in body["series"]}


async def test_usage_counts_runs_tokens_and_errors_per_agent_and_model(any_live: Live) -> None:
    store = await any_live.new_store()
    builder = await store.agent(name="builder", tools=["create_project"])
    talker = await store.agent(name="talker")
    doomed = await failing_agent(store)
    runs = []
    chat = await store.session(builder["id"])
    runs.append(await send(store, chat["id"], "Create a project called Home"))
    runs.append(await send(store, chat["id"], "Create a project called Home"))  # a duplicate
    runs.append(await send(store, (await store.session(talker["id"]))["id"], "hello"))
    failed = await send(store, (await store.session(doomed["id"]))["id"], "hello")
    assert [r["status"] for r in runs] == ["completed"] * 3 and failed["status"] == "failed"
    audit = (await store.admin.get(f"{store.path}/tool-calls")).json()["items"]
    assert sorted(c["outcome"] for c in audit) == ["error", "ok"]
    input_tokens = sum(r["usage"]["input_tokens"] for r in runs)
    output_tokens = sum(r["usage"]["output_tokens"] for r in runs)
    assert input_tokens > 0 and output_tokens > 0

    body = await usage(store)
    assert body["bucket"] == "hour" and body["group_by"] is None
    assert len(body["buckets"]) in (24, 25)  # the last 24 hours, widened to whole hours
    totals = body["totals"]
    assert totals["runs"] == {"completed": 3, "failed": 1} and totals["runs_total"] == 4
    assert (totals["input_tokens"], totals["output_tokens"]) == (input_tokens, output_tokens)
    assert (totals["failed_runs"], totals["failed_tool_calls"], totals["errors"]) == (1, 1, 2)
    [whole] = body["series"]
    assert whole["group"] is None and whole["totals"] == totals
    assert {p["start"] for p in whole["points"]} <= set(body["buckets"][-2:])  # just now
    assert sum(p["runs_total"] for p in whole["points"]) == 4

    agents = by_label(await usage(store, group_by="agent"))
    assert set(agents) == {"builder", "talker", "doomed"}
    assert agents["builder"]["group"] == builder["id"]
    assert agents["builder"]["totals"]["runs"] == {"completed": 2}
    assert agents["builder"]["totals"]["failed_tool_calls"] == 1
    assert agents["builder"]["totals"]["input_tokens"] == sum(
        r["usage"]["input_tokens"] for r in runs[:2]
    )
    assert agents["talker"]["totals"]["output_tokens"] == runs[2]["usage"]["output_tokens"]
    assert agents["doomed"]["totals"]["runs"] == {"failed": 1}
    assert agents["doomed"]["totals"]["failed_runs"] == 1

    models = by_label(await usage(store, group_by="model"))
    assert set(models) == {"offline:default", None}
    offline = models["offline:default"]["totals"]
    assert offline["runs"] == {"completed": 3} and offline["failed_tool_calls"] == 1
    assert (offline["input_tokens"], offline["output_tokens"]) == (input_tokens, output_tokens)
    assert models[None]["totals"]["runs"] == {"failed": 1}  # never reached a model

    daily = await usage(store, bucket="day")
    assert len(daily["buckets"]) in (30, 31) and daily["totals"] == totals
    later = datetime.now(UTC) + timedelta(hours=2)
    empty = await usage(
        store, since=later.isoformat(), until=(later + timedelta(hours=1)).isoformat()
    )
    assert empty["series"] == [] and empty["totals"]["runs_total"] == 0

    other = await any_live.new_store()
    assert (await usage(other))["totals"]["runs_total"] == 0

    by_day = await usage(store, group_by="day")
    assert by_day["bucket"] == "day" and by_day["group_by"] is None
    assert by_day["totals"] == totals and len(by_day["buckets"]) in (30, 31)
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    ranged = await usage(store, **{"from": hour_ago})
    assert ranged["totals"] == totals and len(ranged["buckets"]) in (1, 2)
    assert ranged["since"] == ranged["buckets"][0]

    # the operator's view: every store, here per store
    r = await any_live.http.get("/v1/usage", params={"group_by": "store", "from": hour_ago})
    assert r.status_code == 200, r.text
    stores = {s["group"]: s["totals"] for s in r.json()["series"]}
    assert stores[store.id] == totals and other.id not in stores
    assert r.json()["totals"]["runs_total"] >= totals["runs_total"]
    r = await any_live.http.get("/v1/usage", params={"group_by": "model", "from": hour_ago})
    assert r.status_code == 200, r.text
    assert (await store.admin.get("/v1/usage")).status_code == 403  # a store's key


async def test_usage_parameters_are_validated(store: Store) -> None:
    base = f"{store.path}/usage"
    now = datetime.now(UTC).replace(tzinfo=None)

    async def problem(**params: str) -> dict[str, Any]:
        r = await store.admin.get(base, params=params)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "validation_error"
        return dict(r.json()["error"])

    error = await problem(since=now.isoformat(), until=(now - timedelta(hours=1)).isoformat())
    assert error["details"][0]["loc"] == ["query", "since"]
    error = await problem(since=(now - timedelta(days=32)).isoformat(), bucket="hour")
    assert "at most 744 hour buckets" in error["message"]
    await problem(since=(now - timedelta(days=400)).isoformat(), bucket="day")
    await problem(bucket="week")
    await problem(group_by="session")
    await problem(since="yesterday")
    since = (now - timedelta(days=30)).replace(minute=0, second=0, microsecond=0)
    ok = await store.admin.get(base, params={"since": since.isoformat()})
    assert ok.status_code == 200 and len(ok.json()["buckets"]) == 30 * 24 + 1
    assert ok.json()["since"].startswith(since.isoformat())

    reader = store.live.client(await store.key("readonly"))
    async with reader:
        assert (await reader.get(base)).status_code == 200
    async with store.live.client(None) as anonymous:
        assert (await anonymous.get(base)).status_code == 401


async def test_the_range_is_widened_to_whole_utc_buckets(store: Store) -> None:
    body = await usage(store, since="2026-03-01T00:30:00", until="2026-03-01T03:00:00")
    assert body["since"] == "2026-03-01T00:00:00Z" and body["until"] == "2026-03-01T03:00:00Z"
    assert body["buckets"] == [f"2026-03-01T0{h}:00:00Z" for h in range(3)]
    body = await usage(store, since="2026-03-01T00:30:00", until="2026-03-01T03:10:00")
    assert len(body["buckets"]) == 4 and body["until"] == "2026-03-01T04:00:00Z"
    # another zone is converted to UTC first: 01:30+02:00 is 23:30 the day before
    body = await usage(
        store, since="2026-03-01T01:30:00+02:00", until="2026-03-02T00:00:00Z", bucket="day"
    )
    assert body["buckets"] == ["2026-02-28T00:00:00Z", "2026-03-01T00:00:00Z"]


async def test_an_hourly_view_after_a_daily_one_is_still_hourly(store: Store) -> None:
    """The bucket's unit is part of the compiled statement's cache key: an hourly query that
    followed a daily one in the same server reused the daily SQL (every point at midnight)."""
    chat = await store.session((await store.agent(name="clock"))["id"])
    await send(store, chat["id"], "hello")
    daily = await usage(store, bucket="day")
    hourly = await usage(store)
    assert [p["start"][11:] for s in daily["series"] for p in s["points"]] == ["00:00:00Z"]
    [point] = [p for s in hourly["series"] for p in s["points"]]
    assert point["start"] in hourly["buckets"][-2:]  # this hour (or the last, at its turn)
