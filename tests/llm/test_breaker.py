"""CircuitBreaker states, BreakerClient, and one shared breaker per endpoint."""

from __future__ import annotations

import asyncio

import pytest

from loopwright.llm import (
    BreakerClient,
    BreakerRegistry,
    CircuitBreaker,
    CircuitOpen,
    ProviderError,
)
from tests.llm.helpers import Answer, Clock, Deltas, Scripted, ask, failure


async def call(client: BreakerClient) -> None:
    await client.complete(ask("hi"), [], {}, Deltas())


async def fail_times(client: BreakerClient, times: int) -> None:
    for _ in range(times):
        with pytest.raises(ProviderError) as caught:
            await call(client)
        assert not isinstance(caught.value, CircuitOpen)


async def test_opens_after_consecutive_failures_without_calling_inner(clock: Clock) -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=10, clock=clock)
    inner = Scripted([failure(500)] * 3 + [Answer()])
    client = BreakerClient(inner, breaker)

    await fail_times(client, 2)
    assert breaker.state == "closed"
    await fail_times(client, 1)
    assert breaker.state == "open"

    clock.now += 4
    with pytest.raises(CircuitOpen) as caught:
        await call(client)
    assert inner.calls == 3
    assert caught.value.retry_after_s == 6
    assert caught.value.provider == "scripted"


async def test_a_success_resets_the_failure_count(clock: Clock) -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=clock)
    client = BreakerClient(Scripted([failure(500), Answer(), failure(500), Answer()]), breaker)

    await fail_times(client, 1)
    await call(client)
    await fail_times(client, 1)

    assert breaker.state == "closed"


async def test_refusals_do_not_count_as_failures(clock: Clock) -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=clock)
    refusals = [failure(401, retryable=False), failure(400, retryable=False)] * 2
    client = BreakerClient(Scripted(refusals), breaker)

    await fail_times(client, 4)

    assert breaker.state == "closed"


async def test_half_open_admits_one_trial_and_closes_on_success(clock: Clock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=5, clock=clock)
    gate, entered = asyncio.Event(), asyncio.Event()
    inner = Scripted([failure(500), Answer(("trial",), gate=gate, entered=entered), Answer()])
    client = BreakerClient(inner, breaker)
    await fail_times(client, 1)

    clock.now += 5
    assert breaker.state == "half_open"
    trial = asyncio.create_task(call(client))
    await entered.wait()
    assert inner.calls == 2
    with pytest.raises(CircuitOpen):
        await call(client)
    assert inner.calls == 2

    gate.set()
    await trial
    assert breaker.state == "closed"
    await call(client)
    assert inner.calls == 3


async def test_a_failed_trial_reopens_for_a_full_period(clock: Clock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=5, clock=clock)
    client = BreakerClient(Scripted([failure(500), failure(503)]), breaker)
    await fail_times(client, 1)

    clock.now += 6
    await fail_times(client, 1)

    assert breaker.state == "open"
    assert breaker.retry_after_s() == 5


async def test_a_cancelled_trial_frees_the_slot(clock: Clock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=5, clock=clock)
    entered = asyncio.Event()
    inner = Scripted([failure(500), Answer(gate=asyncio.Event(), entered=entered), Answer()])
    client = BreakerClient(inner, breaker)
    await fail_times(client, 1)
    clock.now += 5

    trial = asyncio.create_task(call(client))
    await entered.wait()
    assert breaker.state == "half_open"
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial

    await call(client)
    assert inner.calls == 3
    assert breaker.state == "closed"


async def test_an_inner_open_circuit_is_not_counted(clock: Clock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    client = BreakerClient(Scripted([CircuitOpen("inner open", provider="x")]), breaker)

    with pytest.raises(CircuitOpen):
        await call(client)

    assert breaker.state == "closed"


def test_registry_shares_one_breaker_per_endpoint(clock: Clock) -> None:
    registry = BreakerRegistry(failure_threshold=1, reset_after_s=7, clock=clock)

    first = registry.get("openai:http://a/v1")
    assert registry.get("openai:http://a/v1") is first
    assert registry.get("openai:http://b/v1") is not first

    first.record_failure()
    assert registry.states() == {"openai:http://a/v1": "open", "openai:http://b/v1": "closed"}
    assert first.retry_after_s() == 7


def test_rejects_a_threshold_below_one() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(failure_threshold=0)


async def test_the_registry_tells_each_change_of_state(clock: Clock) -> None:
    """What ``loopwright_breaker_state`` is fed: every state change of every endpoint, once."""
    told: list[tuple[str, str]] = []
    registry = BreakerRegistry(
        failure_threshold=2, reset_after_s=10, clock=clock, observe=lambda e, s: told.append((e, s))
    )
    inner = Scripted([failure(500)] * 3 + [Answer()])
    client = BreakerClient(inner, registry.get("openai:x"))
    await fail_times(client, 2)  # closed, then open at the second failure
    with pytest.raises(CircuitOpen):
        await call(client)
    clock.now += 10
    await fail_times(client, 1)  # the half-open trial fails: open again
    clock.now += 10
    await call(client)  # the trial succeeds: closed
    assert told == [
        ("openai:x", "closed"),
        ("openai:x", "open"),
        ("openai:x", "half_open"),
        ("openai:x", "open"),
        ("openai:x", "half_open"),
        ("openai:x", "closed"),
    ]
