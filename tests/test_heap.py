"""The running server keeps its long-lived heap out of garbage collections (``gc.freeze``):
full collections over it stalled every run for 150-250 ms."""

from __future__ import annotations

import gc
import subprocess
import sys

from loopwright.runtime import heap
from tests.conftest import Live


async def test_the_long_lived_heap_is_frozen_while_the_worker_runs(live: Live) -> None:
    assert gc.get_freeze_count() > 100_000
    # young objects are collected every 10,000, not 700: in-flight turns' objects were
    # promoted, and the older generations' collections grew with concurrency
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD


WARM_THEN_BUILD = """
import sys
from loopwright.runtime import heap
heap.warm_up()
before = set(sys.modules)
from loopwright.llm import BreakerRegistry, ProviderSpec, build_client
spec = ProviderSpec(name="p", kind="openai", base_url="http://127.0.0.1:9/v1", api_key="k")
build_client(spec, "m", breakers=BreakerRegistry())
print(sorted(set(sys.modules) - before))
"""


def test_after_the_warm_up_a_first_model_client_imports_nothing() -> None:
    """The first run of a process imports nothing (it once spent ~0.75 s on the OpenAI SDK and
    then ~30 ms on pydantic-ai's provider module and price table): a fresh interpreter, so the
    modules other tests imported do not hide a missing one."""
    done = subprocess.run(
        [sys.executable, "-c", WARM_THEN_BUILD], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_a_second_runner_stopping_leaves_the_heap_of_one_still_running_frozen() -> None:
    """The freeze is process-wide: a test's own server stopping once thawed the shared one's."""
    before = gc.get_freeze_count()
    heap.hold()
    heap.hold()
    heap.release()
    assert gc.get_freeze_count() > 0
    heap.release()
    if before == 0:  # no other runner of this process holds it
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold()[0] == 700  # Python's default, for a process that goes on
    else:
        heap.settle()
