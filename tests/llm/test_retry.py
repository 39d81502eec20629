"""RetryingClient: backoff with jitter, Retry-After, and no retry once output was streamed."""

from __future__ import annotations

import pytest

from loopwright.llm import ProviderError, RetryingClient
from tests.llm.helpers import Answer, Deltas, Scripted, Sleeps, ask, failure


def retrying(inner: Scripted, sleeps: Sleeps, **options: float) -> RetryingClient:
    return RetryingClient(
        inner,
        attempts=int(options.pop("attempts", 3)),
        sleep=sleeps,
        random=lambda: options.get("jitter", 1.0),
        base_delay_s=options.get("base", 0.5),
        max_delay_s=options.get("cap", 20.0),
    )


async def test_retries_with_exponential_backoff_until_success(sleeps: Sleeps) -> None:
    inner = Scripted([failure(500), failure(503), Answer(("done",))])

    response = await retrying(inner, sleeps).complete(ask("hi"), [], {}, Deltas())

    assert response.model_name == "scripted-model"
    assert inner.calls == 3
    assert sleeps.calls == [0.5, 1.0]


async def test_full_jitter_scales_the_backoff(sleeps: Sleeps) -> None:
    inner = Scripted([failure(500), failure(500), Answer()])

    await retrying(inner, sleeps, jitter=0.25, base=2.0).complete(ask("hi"), [], {}, Deltas())

    assert sleeps.calls == [0.5, 1.0]


async def test_backoff_is_capped(sleeps: Sleeps) -> None:
    inner = Scripted([failure(500)] * 4 + [Answer()])

    await retrying(inner, sleeps, attempts=5, base=1.0, cap=3.0).complete(
        ask("hi"), [], {}, Deltas()
    )

    assert sleeps.calls == [1.0, 2.0, 3.0, 3.0]


async def test_gives_up_after_the_last_attempt_with_its_error(sleeps: Sleeps) -> None:
    last = failure(502)
    inner = Scripted([failure(500), failure(503), last, Answer()])

    with pytest.raises(ProviderError) as caught:
        await retrying(inner, sleeps).complete(ask("hi"), [], {}, Deltas())

    assert caught.value is last
    assert inner.calls == 3
    assert len(sleeps.calls) == 2


async def test_honours_retry_after_as_a_minimum_within_the_cap(sleeps: Sleeps) -> None:
    inner = Scripted([failure(429, retry_after_s=4.0), failure(429, retry_after_s=60.0), Answer()])

    await retrying(inner, sleeps, jitter=0.0, cap=20.0).complete(ask("hi"), [], {}, Deltas())

    assert sleeps.calls == [4.0, 20.0]


async def test_does_not_retry_a_non_retryable_error(sleeps: Sleeps) -> None:
    refused = failure(401, retryable=False)
    inner = Scripted([refused, Answer()])

    with pytest.raises(ProviderError) as caught:
        await retrying(inner, sleeps).complete(ask("hi"), [], {}, Deltas())

    assert caught.value is refused
    assert inner.calls == 1
    assert sleeps.calls == []


async def test_does_not_retry_after_a_delta_reached_the_caller(
    sleeps: Sleeps, deltas: Deltas
) -> None:
    broken = failure(500)
    inner = Scripted([Answer(("Hel", "lo"), error=broken), Answer(("again",))])

    with pytest.raises(ProviderError) as caught:
        await retrying(inner, sleeps).complete(ask("hi"), [], {}, deltas)

    assert caught.value is broken
    assert inner.calls == 1
    assert deltas.text() == "Hello"
    assert sleeps.calls == []


async def test_forwards_deltas_of_the_successful_attempt(sleeps: Sleeps, deltas: Deltas) -> None:
    inner = Scripted([failure(500), Answer(("a", "b"))])

    await retrying(inner, sleeps).complete(ask("hi"), [], {}, deltas)

    assert [d.text for d in deltas.received] == ["a", "b"]


def test_reports_the_inner_client_and_rejects_zero_attempts() -> None:
    inner = Scripted([], provider="acme")
    client = RetryingClient(inner)
    assert (client.provider, client.model) == ("acme", "acme-model")
    with pytest.raises(ValueError, match="attempts"):
        RetryingClient(inner, attempts=0)
