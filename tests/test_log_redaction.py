"""No API key or stored secret reaches a log line, at any level, from any logger.

A real server process logs at DEBUG (uvicorn's access log on) into a file while a test drives
REST, SSE and WebSocket traffic with keys in headers and in ``?token=``, a run against a store
provider that echoes its key in a retried error, an HTTP tool and an MCP server with secret
headers. Then every line is searched for each secret.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws

from loopwright.server.logs import REDACTED, Redactor, configure
from loopwright.settings import Settings
from tests.llm.fakes import Fail, Reply
from tests.procs import OPERATOR_KEY, ServerProcess
from tests.scripted import GatedLLM

PROVIDER_KEY = "sk-proj-" + secrets.token_urlsafe(24)
TOOL_SECRET = secrets.token_hex(20)
MCP_SECRET = secrets.token_urlsafe(24)
SSE = {"Accept": "text/event-stream"}


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _created(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(path, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _drain(ws: AsyncWebSocketSession) -> None:
    async with asyncio.timeout(30):
        while True:
            await ws.receive_json()


async def _drive(base_url: str, fake_url: str, llm: GatedLLM) -> dict[str, str]:
    """Traffic that carries every kind of secret; returns the keys it made."""
    operator = httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {OPERATOR_KEY}"}, timeout=60
    )
    store_id = f"logs-{secrets.token_hex(4)}"
    path = f"/v1/stores/{store_id}"
    await _created(operator, "/v1/stores", {"id": store_id})
    admin_key = (await _created(operator, f"{path}/keys", {"role": "admin"}))["key"]
    admin = httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60
    )
    member = await _created(admin, f"{path}/keys", {"role": "member"})
    provider = {"name": "acme", "kind": "openai", "base_url": f"{fake_url}/v1"}
    await _created(admin, f"{path}/providers", {**provider, "api_key": PROVIDER_KEY})
    tool = {
        "name": "lookup",
        "description": "Look an item up.",
        "url": f"http://127.0.0.1:{closed_port()}/items",
        "method": "GET",
        "parameters": {"type": "object", "properties": {}},
        "headers": {"X-Api-Key": TOOL_SECRET},
    }
    await _created(admin, f"{path}/tools", tool)
    mcp = {
        "name": "remote",
        "transport": "streamable_http",
        "url": f"http://127.0.0.1:{closed_port()}/mcp",
        "headers": {"Authorization": f"Bearer {MCP_SECRET}"},
    }
    mcp_id = (await _created(admin, f"{path}/mcp-servers", mcp))["id"]
    agent = await _created(
        admin,
        f"{path}/agents",
        {"name": "echo", "model": "acme:gpt-test", "tools": ["lookup", "remote.add"]},
    )
    chat = await _created(admin, f"{path}/sessions", {"agent_id": agent["id"]})

    assert (await admin.post(f"{path}/tools/lookup/test", json={"arguments": {}})).is_success
    assert (await admin.post(f"{path}/mcp-servers/{mcp_id}/health")).is_success
    # A provider that echoes the key it was sent, in an error the server retries (and logs).
    echo = f"key {PROVIDER_KEY} refused; Authorization: Bearer {PROVIDER_KEY}"
    llm.push(Fail(503, message=echo), Reply(text=["fine"]))
    r = await admin.post(
        f"{path}/sessions/{chat['id']}/messages", json={"content": "hello", "wait": True}
    )
    assert r.json()["run"]["status"] == "completed", r.text
    llm.push(Fail(401, message=echo))
    r = await admin.post(
        f"{path}/sessions/{chat['id']}/messages", json={"content": "again", "wait": True}
    )
    assert r.json()["run"]["status"] == "failed", r.text

    # Keys in query strings: REST, SSE, WebSocket (member, admin, operator, a wrong key).
    r = await admin.get(f"{path}/events", params={"token": admin_key, "api_key": member["key"]})
    assert r.status_code == 200
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=60) as anonymous,
        anonymous.stream(
            "GET", f"{path}/events", headers={**SSE, "Authorization": f"Bearer {member['key']}"}
        ) as stream,
    ):
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                break
    ws_url = f"{base_url.replace('http', 'ws')}{path}/ws"
    async with httpx.AsyncClient() as client:
        for key in (admin_key, OPERATOR_KEY, "lw_" + secrets.token_urlsafe(32)):
            async with aconnect_ws(f"{ws_url}?token={key}", client) as ws:
                await ws.receive_json()
        async with aconnect_ws(f"{ws_url}?token={member['key']}", client) as ws:
            await ws.receive_json()
            r = await admin.delete(f"{path}/keys/{member['id']}")  # closes this socket
            assert r.status_code == 204
            with pytest.raises(WebSocketDisconnect) as closed:
                await _drain(ws)
            assert closed.value.code == 4401
    await admin.aclose()
    await operator.aclose()
    return {"admin key": admin_key, "member key": member["key"]}


@pytest.mark.parametrize("log_format", ["console", "json"])
async def test_no_key_or_secret_reaches_any_log_line(
    tmp_path: Path, fake: tuple[GatedLLM, str], log_format: str
) -> None:
    llm, fake_url = fake
    output = tmp_path / "server.log"
    env = {
        "LOOPWRIGHT_LOG_FORMAT": log_format,
        "LOOPWRIGHT_LOG_LEVEL": "debug",
        "LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32",
        "PYTHONUNBUFFERED": "1",
    }
    server = ServerProcess(tmp_path / "data", env, output=output)
    await server.start()
    try:
        keys = await _drive(server.base_url, fake_url, llm)
    finally:
        await server.stop()
    planted = {
        **keys,
        "operator key": OPERATOR_KEY,
        "provider api_key": PROVIDER_KEY,
        "HTTP tool header": TOOL_SECRET,
        "MCP server header": MCP_SECRET,
    }
    lines = output.read_text(errors="replace").splitlines()
    for number, line in enumerate(lines, 1):
        for name, secret in planted.items():
            assert secret not in line, f"the {name} is in log line {number}: {line}"
    if log_format == "json":
        JSON_LINES.clear()
        lines = [_message(line) for line in lines]
    text = "\n".join(lines)
    # The log did see all of it, at DEBUG, with the secrets taken out.
    assert "DEBUG" in text
    assert '"GET /v1/stores/' in text and "token=[redacted]" in text
    assert "WebSocket /v1/stores/" in text
    assert "retrying acme:gpt-test" in text
    assert "MCP server remote unavailable" in text
    if log_format == "json":  # each line names what it was for
        retry = next(e for e in JSON_LINES if "retrying acme:gpt-test" in e["message"])
        assert retry["store_id"].startswith("logs-")
        assert retry["run_id"].startswith("run_") and retry["session_id"].startswith("ses_")
        access = [e for e in JSON_LINES if e["logger"] == "uvicorn.access"]
        assert access and all(len(e["request_id"]) == 16 for e in access)


JSON_LINES: list[dict[str, Any]] = []


def _message(line: str) -> str:
    """A JSON log line as the console would show it (level and message); other lines (the
    server's banner, a library's print) as they are."""
    if not line.startswith("{"):
        return line
    entry = json.loads(line)
    JSON_LINES.append(entry)
    return f"{entry['level'].upper()} {entry['logger']}: {entry['message']}"


SECRET = "Zq8v1LrT0pXw"


@pytest.mark.parametrize(
    "line",
    [
        f'"GET /v1/stores/s/ws?session_id=ses_1&token={SECRET}&after=3 HTTP/1.1" 101',
        f"/x?api_key={SECRET}",
        f"/x?access_token={SECRET}#frag",
        f'{{"api_key": "{SECRET}", "model": "m"}}',
        f"{{'client_secret': '{SECRET}'}}",
        f"Authorization: Bearer {SECRET}",
        f"x-api-key: {SECRET}",
        f"[(b'authorization', b'Basic {SECRET}'), (b'x-goog-api-key', b'{SECRET}')]",
        f"(b'set-cookie', b'sid={SECRET}; Path=/')",
        f"password={SECRET} user=me",
        f"the upstream said: Bearer {SECRET}",
        f"key lw_{SECRET}{SECRET}abc was refused",
        f"key sk-proj-{SECRET}{SECRET} was refused",
        f"key AIza{SECRET}{SECRET}{SECRET} was refused",
        f"postgresql://loopwright:{SECRET}@db.internal:5432/lw",
        f"literal {SECRET}-operator",
    ],
)
def test_redactor_takes_out_secrets(line: str) -> None:
    scrubbed = Redactor([f"{SECRET}-operator"]).scrub(line)
    assert SECRET not in scrubbed
    assert REDACTED in scrubbed


@pytest.mark.parametrize(
    "line",
    [
        '{"input_tokens": 11, "output_tokens": 7, "max_tokens": 100}',
        '"GET /v1/stores/s/events?after=3&types=run.completed HTTP/1.1" 200',
        "key_id=key_01a2 session_id=ses_01 run_id=run_02",
        "http://127.0.0.1:8080/mcp failed: ConnectError",
        "retrying acme:gpt-test in 0.28s after attempt 1 failed",
    ],
)
def test_redactor_keeps_lines_without_secrets(line: str) -> None:
    assert Redactor().scrub(line) == line


def test_records_are_scrubbed_as_they_are_made() -> None:
    """Message, arguments (numbers stay numbers, for ``%d``), tracebacks and stacks."""
    redactor = Redactor([SECRET])
    try:
        raise RuntimeError(f"provider answered: Bearer {SECRET}")
    except RuntimeError:
        record = logging.LogRecord(
            "uvicorn.access",
            logging.INFO,
            __file__,
            1,
            '%s - "%s %s HTTP/%s" %d',
            ("127.0.0.1:5", "GET", f"/ws?token={SECRET}", "1.1", 200),
            sys.exc_info(),
            sinfo=f"stack with {SECRET}",
        )
    redactor.scrub_record(record)
    assert record.args == ("127.0.0.1:5", "GET", "/ws?token=[redacted]", "1.1", 200)
    assert SECRET not in logging.Formatter().format(record)
    assert "RuntimeError: provider answered: Bearer [redacted]" in (record.exc_text or "")
    assert record.stack_info == "stack with [redacted]"


def test_serve_installs_redaction_for_every_logger(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, operator_key=SECRET, log_level="debug")
    previous = logging.getLogRecordFactory()
    try:
        config = configure(settings)
        record = logging.getLogger("any.library").makeRecord(
            "any.library", logging.DEBUG, __file__, 1, "key %s", (SECRET,), None
        )
        assert record.getMessage() == "key [redacted]"
        assert config["root"]["level"] == logging.DEBUG
        assert config["loggers"]["uvicorn.access"]["handlers"] == ["access"]
    finally:
        logging.setLogRecordFactory(previous)
