"""The model client's own CPU for one turn's two requests (a tool call, then a 20-token answer).

In one process, pinned to core 0, against ``bench/fake_openai.py`` on core 1: the client built
by ``build_client`` for an OpenAI-compatible endpoint (``llm/openai_chat.py``), or, with
``--stock``, pydantic-ai's ``OpenAIChatModel`` over the stock SDK (``PydanticAIClient``), as
the server used before. ``--token-ms`` spaces the answer's chunks so each is a read of its
own (at 0 ms the body arrives in one or two reads).

    PYTHONPATH=src:. .venv/bin/python -m bench.model_client [--turns 300] [--token-ms 2] [--stock]

Measured 2026-12-07 on this machine, quiet: 16.0 ms per turn stock, 9.0 ms this client (body
in one read); 16 ms this client with a read per chunk (``--token-ms 2``). Later that day, on
``egress.http11`` instead of httpx2's own transport (alternating, same window): 6.72 -> 3.03
ms at 0 ms per token, 12.2-12.5 -> 7.6-7.8 ms at 2 ms per token.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

import httpx2
from openai import AsyncOpenAI
from pydantic_ai import ToolDefinition
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    SystemPromptPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from bench.harness import free_port
from loopwright.llm import BreakerRegistry, ModelClient, ModelDelta, ProviderSpec, build_client
from loopwright.llm.pydantic_client import PydanticAIClient

TOOL = ToolDefinition(
    name="list_projects",
    description="List projects",
    parameters_json_schema={"type": "object", "properties": {}},
)
HISTORY: list[ModelMessage] = [
    ModelRequest(parts=[SystemPromptPart("You are helpful."), UserPromptPart("hello there")])
]


async def _ignore(delta: ModelDelta) -> None:
    pass


async def turn(client: ModelClient) -> None:
    first = await client.complete(HISTORY, [TOOL], {}, _ignore)
    call = first.parts[0]
    assert isinstance(call, ToolCallPart)
    result = ToolReturnPart("list_projects", {"projects": []}, tool_call_id=call.tool_call_id)
    await client.complete([*HISTORY, first, ModelRequest(parts=[result])], [TOOL], {}, _ignore)


def client_for(base_url: str, *, stock: bool) -> ModelClient:
    if not stock:
        spec = ProviderSpec("openai", "openai", base_url, "k")
        return build_client(spec, "bench", breakers=BreakerRegistry(), attempts=1)
    sdk = AsyncOpenAI(api_key="k", base_url=base_url, max_retries=0)
    return PydanticAIClient(
        OpenAIChatModel("bench", provider=OpenAIProvider(openai_client=sdk)), "openai"
    )


async def main(port: int, turns: int, token_ms: int, stock: bool) -> None:
    async with httpx2.AsyncClient() as http:
        for _ in range(100):
            try:
                await http.get(f"http://127.0.0.1:{port}/health")
                break
            except httpx2.TransportError:
                await asyncio.sleep(0.1)
    client = client_for(f"http://127.0.0.1:{port}/v1", stock=stock)
    for _ in range(20):  # warm: imports, connections, caches
        await turn(client)
    began = time.process_time()
    for _ in range(turns):
        await turn(client)
    cpu_ms = (time.process_time() - began) * 1000 / turns
    which = "stock SDK + pydantic-ai reader" if stock else "OpenAIChatClient"
    print(f"{which}: {cpu_ms:.2f} ms of CPU per turn (2 requests), token {token_ms} ms")


def fake_model(port: int, token_ms: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FAKE_ANSWER_TOKENS": "20", "FAKE_TOKEN_MS": str(token_ms)}
    command = [sys.executable, "-m", "uvicorn", "bench.fake_openai:app", "--port", str(port)]
    return subprocess.Popen(["taskset", "-c", "1", *command, "--log-level", "warning"], env=env)


if __name__ == "__main__":
    os.sched_setaffinity(0, {0})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--token-ms", type=int, default=0)
    parser.add_argument("--stock", action="store_true")
    args = parser.parse_args()
    fake_port = free_port()
    fake = fake_model(fake_port, args.token_ms)
    try:
        asyncio.run(main(fake_port, args.turns, args.token_ms, args.stock))
    finally:
        fake.terminate()
        fake.wait()
