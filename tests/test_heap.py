"""The running server keeps its long-lived heap out of garbage collections (``gc.freeze``):
full collections over it stalled every run for 150-250 ms."""

from __future__ import annotations

import gc

from tests.conftest import Live


async def test_the_long_lived_heap_is_frozen_while_the_worker_runs(live: Live) -> None:
    assert gc.get_freeze_count() > 100_000
