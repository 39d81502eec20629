"""Run Loopwright's agent loop in a plain script: a scripted model, two Python tools, no
database and no server.

    python examples/tool_loop.py
"""

from __future__ import annotations

import asyncio

from loopwright.testing import FunctionToolset, ScriptedModel, call_tool, run_agent

PRICES = {"apple": 0.5, "pear": 0.75}


def price(fruit: str) -> float:
    """The price of one fruit, in euros."""
    return PRICES[fruit]


async def multiply(a: float, b: float) -> float:
    """a times b."""
    return a * b


async def main() -> str:
    model = ScriptedModel.replies(
        call_tool("price", {"fruit": "pear"}),
        call_tool("multiply", {"a": 0.75, "b": 4}),
        "Four pears cost 3.00 euros.",
    )
    run = await run_agent(model, FunctionToolset(price, multiply), "What do four pears cost?")
    assert run.outcome.status == "completed", run.outcome
    return run.answer


if __name__ == "__main__":
    print(asyncio.run(main()))
