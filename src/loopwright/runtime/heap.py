"""Keep Python's cyclic garbage collector away from the long-lived heap, and from the objects
of the turns in flight.

The server's heap is mostly modules and objects that live as long as the process (SQLAlchemy,
pydantic and provider SDK types, DBOS): about 450,000 objects, which a full collection walks
in 150-250 ms, stalling every run and stream on the loop (measured here: the p99 of a turn).
``gc.freeze()`` moves everything alive into a generation the collector never scans, so later
collections walk only what requests create. It is called once the worker has started and
again after a provider SDK is first imported (both grow the long-lived heap).

While the server runs, a young-generation collection waits for ``YOUNG_THRESHOLD`` new
objects instead of Python's 700. A turn's objects are short-lived, but at 700 a collection
came every few hundred allocations and found the objects of the turns still in flight alive:
it promoted them, and the older generations, collected more often and holding more, cost more
as concurrency grew (``bench.turn_breakdown --concurrency 50``, the whole process's
collections per turn: 2.0-2.3 ms at 700, among them a full one every ~50 turns of ~25 ms;
0.9-1.3 ms at 10,000, no full one). A young collection walks more objects at a time, the
same in total.
"""

from __future__ import annotations

import gc
import importlib

# Imported at start-up so the first run does not pay for it (~0.75 s here): every
# OpenAI-compatible endpoint (Ollama, vLLM, gateways) goes through the OpenAI modules; a
# pydantic-ai model loads the price table (``genai_prices.data``, ~25 ms) when first built; the
# first event stream starts anyio's asyncio backend.
EAGER_MODULES = (
    "pydantic_ai.models.openai",
    "pydantic_ai.providers.openai",
    "loopwright.llm.openai_chat",
    "genai_prices.data",
    "anyio._backends._asyncio",
)


def warm_up() -> None:
    for name in EAGER_MODULES:
        importlib.import_module(name)


YOUNG_THRESHOLD = 10_000
"""New objects between two young-generation collections while a runner holds the heap."""

_holders = 0
_default_thresholds = gc.get_threshold()


def hold() -> None:
    """A runner starts: exempt what is alive now from later collections until it stops, and
    collect the young generation less often."""
    global _holders
    _holders += 1
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *_default_thresholds[1:])


def settle() -> None:
    """Exempt what is alive now (after the long-lived heap grew) from later collections."""
    gc.freeze()


def release() -> None:
    """A runner stops: undo the freeze once no runner of the process holds it, so a process
    that goes on (a test run) is unchanged, and a second runner stopping does not thaw the heap
    of one still running (the freeze is process-wide)."""
    global _holders
    _holders = max(0, _holders - 1)
    if _holders == 0:
        gc.unfreeze()
        gc.set_threshold(*_default_thresholds)
