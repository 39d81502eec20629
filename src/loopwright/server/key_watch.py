"""Open streams and deleted keys: an SSE stream or WebSocket ends once its key is gone.

A stream authenticates when it opens; ``until_revoked`` runs beside it and returns once the key
no longer resolves: at once when this process deletes it, otherwise when the key's cache entry
expires and the lookup finds no key (so within ``key_cache_s``, and at least ``MIN_RECHECK_S``
apart). The streams of one key share each lookup. ``cut_short`` ends an event iterator when
such a watch completes, without a task or a timer per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar

from loopwright.server.auth import lookup
from loopwright.server.services import Services

T = TypeVar("T")

MIN_RECHECK_S = 0.5
"""The shortest pause between two lookups of one stream's key (``key_cache_s`` may be 0)."""


async def until_revoked(svc: Services, token: str | None) -> None:
    """Return once ``token`` no longer resolves to a key (None: at once)."""
    if token is None:
        return
    operator = svc.settings.operator_key
    if operator is not None and hmac.compare_digest(token, operator.get_secret_value()):
        await asyncio.get_running_loop().create_future()  # configuration: never deleted
    deleted_here: asyncio.Event | None = None
    while (entry := await lookup(svc, token)) is not None:
        deleted_here = deleted_here or svc.keys.deletion(entry.key_id)
        recheck_in = max(entry.expires_at - time.monotonic() + 0.01, MIN_RECHECK_S)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(recheck_in):  # no task per wait, as wait_for starts
                await deleted_here.wait()


async def cut_short(
    stream: AsyncGenerator[T, None], stop: asyncio.Future[None]
) -> AsyncIterator[T]:
    """``stream``'s items until ``stop`` completes.

    If it completes while the consumer waits for the next item, that wait is cancelled (a
    cancellation this generator takes back, as ``asyncio.timeout`` does, so it lands only
    inside ``stream``); if it completes while an item is being handled, no next one is taken.
    """
    waiting: asyncio.Task[object] | None = None  # the consumer, while it waits for an item
    interrupted = False

    def interrupt(_: object) -> None:
        nonlocal interrupted
        if waiting is not None:
            interrupted = True
            waiting.cancel()

    stop.add_done_callback(interrupt)
    try:
        while not stop.done():
            consumer = asyncio.current_task()
            if consumer is None:
                raise RuntimeError("cut_short is iterated outside a task")
            cancelling = consumer.cancelling()
            waiting = consumer
            try:
                item = await anext(stream)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if interrupted and consumer.uncancel() <= cancelling:
                    return
                raise
            finally:
                waiting = None
            yield item
    finally:
        stop.remove_done_callback(interrupt)
        await stream.aclose()
