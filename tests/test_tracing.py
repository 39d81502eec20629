"""OpenTelemetry traces over OTLP (HTTP/protobuf) to a collector running in this test process.

A server process exports to it; a parent run (a fake OpenAI model) asks a child agent (the
offline model) for a task. The spans must follow the GenAI conventions and link up: the run's
trace to the HTTP request that sent its message, the child's trace to its parent's tool call.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.llm.fakes import Reply, ToolCall, serve
from tests.procs import OPERATOR_KEY, ServerProcess
from tests.scripted import GatedLLM, Hold

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


class Collector:
    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []

    def app(self) -> Starlette:
        async def traces(request: Request) -> Response:
            assert request.headers["content-type"] == "application/x-protobuf"
            message = ExportTraceServiceRequest()
            message.ParseFromString(await request.body())
            for resource in message.resource_spans:
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        self.spans.append(_span(span))
            body = ExportTraceServiceResponse().SerializeToString()
            return Response(body, media_type="application/x-protobuf")

        async def health(request: Request) -> Response:
            return Response("ok")

        return Starlette(
            routes=[Route("/v1/traces", traces, methods=["POST"]), Route("/health", health)]
        )

    def named(self, prefix: str) -> list[dict[str, Any]]:
        return [s for s in self.spans if s["name"].startswith(prefix)]


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind)


def _span(span: Any) -> dict[str, Any]:
    return {
        "name": span.name,
        "trace": span.trace_id.hex(),
        "id": span.span_id.hex(),
        "parent": span.parent_span_id.hex(),
        "links": [(link.trace_id.hex(), link.span_id.hex()) for link in span.links],
        "attrs": {a.key: _value(a.value) for a in span.attributes},
        "error": span.status.code == 2,
    }


@contextlib.asynccontextmanager
async def traced_server(
    tmp_path: Path, collector: Collector, **env: str
) -> AsyncIterator[ServerProcess]:
    async with serve(collector.app()) as collector_url:
        server = ServerProcess(
            tmp_path / "data",
            {
                "LOOPWRIGHT_OTLP_ENDPOINT": f"{collector_url}/v1/traces",
                "LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32",
                **env,
            },
        )
        await server.start()
        try:
            yield server
        finally:
            await server.stop()  # shutting down sends the spans still buffered


async def _store(base_url: str) -> httpx.AsyncClient:
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with httpx.AsyncClient(base_url=base_url, headers=operator) as op:
        assert (await op.post("/v1/stores", json={"id": "traced"})).status_code == 201
        key = (await op.post("/v1/stores/traced/keys", json={"role": "admin"})).json()["key"]
    return httpx.AsyncClient(
        base_url=f"{base_url}/v1/stores/traced",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


async def _created(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await http.post(path, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_a_run_and_its_child_are_traced_with_genai_attributes(
    tmp_path: Path, fake: tuple[GatedLLM, str]
) -> None:
    llm, fake_url = fake
    ask = ToolCall("ask_agent", {"agent": "kid", "message": "create a task called Alpha"}, "c1")
    llm.push(Reply(tool_calls=[ask]), Reply(text=["Alpha is done."]))
    collector = Collector()
    async with traced_server(tmp_path, collector) as server:
        http = await _store(server.base_url)
        provider = {"name": "fake", "kind": "openai", "base_url": f"{fake_url}/v1", "api_key": "k"}
        await _created(http, "/providers", provider)
        await _created(
            http, "/agents", {"name": "kid", "model": "offline:default", "tools": ["create_task"]}
        )
        boss = await _created(
            http, "/agents", {"name": "boss", "model": "fake:m", "tools": ["ask_agent"]}
        )
        chat = await _created(http, "/sessions", {"agent_id": boss["id"]})
        r = await http.post(
            f"/sessions/{chat['id']}/messages",
            json={"content": "split the work", "wait": True},
            headers={"traceparent": CALLER},
        )
        assert r.json()["run"]["status"] == "completed", r.text
        run_id = r.json()["run"]["id"]
        await http.aclose()

    # the HTTP request continues the caller's trace
    (post,) = [
        s for s in collector.named("POST /v1/stores/{store_id}/sessions/{session_id}/messages")
    ]
    assert post["trace"] == CALLER_TRACE and post["parent"] == "00f067aa0ba902b7"
    assert post["attrs"]["http.response.status_code"] == 200

    runs = collector.named("invoke_agent ")
    (parent,) = [s for s in runs if s["attrs"]["loopwright.run_id"] == run_id]
    # a trace of its own, linked to the request that started it
    assert parent["trace"] != CALLER_TRACE and parent["parent"] == ""
    assert parent["links"] == [(CALLER_TRACE, post["id"])]
    assert parent["attrs"]["gen_ai.operation.name"] == "invoke_agent"
    assert parent["attrs"]["gen_ai.agent.id"] == boss["id"]
    assert parent["attrs"]["loopwright.run.status"] == "completed"

    chats = [s for s in collector.named("chat ") if s["trace"] == parent["trace"]]
    assert len(chats) == 2 and all(s["parent"] == parent["id"] for s in chats)
    for span in chats:
        attrs = span["attrs"]
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.system"] == "openai" and attrs["gen_ai.request.model"] == "m"
        assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
        assert attrs["gen_ai.response.finish_reasons"] in (["tool_call"], ["stop"])
        assert "gen_ai.input.messages" not in attrs  # content is off by default

    # ask_agent runs twice: it starts the child (and the run waits), then reads its answer
    tools = [s for s in collector.named("execute_tool ask_agent") if s["trace"] == parent["trace"]]
    assert len(tools) == 2 and all(s["parent"] == parent["id"] for s in tools)
    (tool,) = [s for s in tools if "loopwright.tool.waiting_on" in s["attrs"]]
    assert tool["attrs"]["gen_ai.tool.name"] == "ask_agent"
    assert tool["attrs"]["gen_ai.tool.call.id"] == "c1"
    assert "gen_ai.tool.call.arguments" not in tool["attrs"]

    # the child run: its own trace, linked to the parent's tool call that started it
    (child,) = [s for s in runs if s["attrs"]["loopwright.run_id"] != run_id]
    assert child["trace"] != parent["trace"]
    assert (parent["trace"], tool["id"]) in child["links"]
    (kid_tool,) = [s for s in collector.named("execute_tool create_task")]
    assert kid_tool["trace"] == child["trace"] and kid_tool["parent"] == child["id"]
    kid_chats = [s for s in collector.named("chat ") if s["trace"] == child["trace"]]
    assert kid_chats and kid_chats[0]["attrs"]["gen_ai.request.model"] == "default"


async def test_content_only_when_turned_on(tmp_path: Path) -> None:
    collector = Collector()
    async with traced_server(tmp_path, collector, LOOPWRIGHT_TRACE_CONTENT="true") as server:
        http = await _store(server.base_url)
        agent = await _created(
            http, "/agents", {"name": "a", "model": "offline:default", "tools": ["create_task"]}
        )
        chat = await _created(http, "/sessions", {"agent_id": agent["id"]})
        r = await http.post(
            f"/sessions/{chat['id']}/messages",
            json={"content": "create a task called Zebra-42", "wait": True},
        )
        assert r.json()["run"]["status"] == "completed", r.text
        await http.aclose()
    first = collector.named("chat ")[0]["attrs"]
    assert "Zebra-42" in first["gen_ai.input.messages"]
    assert "gen_ai.output.messages" in first
    (tool,) = collector.named("execute_tool create_task")
    assert "Zebra-42" in tool["attrs"]["gen_ai.tool.call.arguments"]
    assert "Zebra-42" in tool["attrs"]["gen_ai.tool.call.result"]


async def test_a_resumed_run_continues_its_trace_in_another_process(
    tmp_path: Path, fake: tuple[GatedLLM, str]
) -> None:
    """The server is killed in a model call; the restarted one resumes the run (DBOS) and emits
    the run's root span with the ids stored when it was queued, linked to the request."""
    llm, fake_url = fake
    llm.push(Hold(Reply(text=["lost"])), Reply(text=["Answered after the restart."]))
    collector = Collector()
    async with traced_server(tmp_path, collector) as server:
        http = await _store(server.base_url)
        provider = {"name": "fake", "kind": "openai", "base_url": f"{fake_url}/v1", "api_key": "k"}
        await _created(http, "/providers", provider)
        agent = await _created(http, "/agents", {"name": "w", "model": "fake:m"})
        chat = await _created(http, "/sessions", {"agent_id": agent["id"]})
        r = await http.post(
            f"/sessions/{chat['id']}/messages",
            json={"content": "hello"},
            headers={"traceparent": CALLER},
        )
        run_id = r.json()["run"]["id"]
        await llm.wait_for_requests(1)
        await server.kill()  # nothing it buffered is sent
        with sqlite3.connect(tmp_path / "data" / "loopwright.db") as db:
            (stored,) = db.execute("SELECT trace FROM runs WHERE id = ?", (run_id,)).fetchone()
        stored = json.loads(stored)
        await server.start()
        base = f"{server.base_url}/v1/stores/traced"
        r = await http.post(f"{base}/runs/{run_id}/wait", params={"timeout_s": 60})
        assert r.json()["status"] == "completed", r.text
        await http.aclose()

    (run,) = collector.named("invoke_agent ")
    assert (run["trace"], run["id"]) == (stored["trace_id"], stored["span_id"])
    assert run["attrs"]["loopwright.resumed"] is True
    assert run["links"] and run["links"][0][0] == CALLER_TRACE
    assert stored["link"].split("-")[1] == CALLER_TRACE
    (answer,) = [s for s in collector.named("chat ") if s["trace"] == stored["trace_id"]]
    assert answer["parent"] == stored["span_id"]
