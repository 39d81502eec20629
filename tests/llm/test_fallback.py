"""FallbackClient: the next client on failure, but never after output was streamed."""

from __future__ import annotations

import pytest

from loopwright.llm import CircuitOpen, FallbackClient, ProviderError
from tests.llm.helpers import Answer, Deltas, Scripted, ask, failure


async def test_answers_from_the_first_client_that_succeeds(deltas: Deltas) -> None:
    first = Scripted([failure(401, retryable=False)], provider="a")
    second = Scripted([CircuitOpen("open", provider="b")], provider="b")
    third = Scripted([Answer(("from ", "c"))], provider="c")
    client = FallbackClient([first, second, third])

    response = await client.complete(ask("hi"), [], {}, deltas)

    assert (response.provider_name, response.model_name) == ("c", "c-model")
    assert (client.provider, client.model) == ("a", "a-model")
    assert deltas.text() == "from c"
    assert (first.calls, second.calls, third.calls) == (1, 1, 1)


async def test_stops_at_the_first_success() -> None:
    first = Scripted([Answer()], provider="a")
    second = Scripted([Answer()], provider="b")

    response = await FallbackClient([first, second]).complete(ask("hi"), [], {}, Deltas())

    assert response.provider_name == "a"
    assert second.calls == 0


async def test_does_not_fall_back_after_a_delta(deltas: Deltas) -> None:
    broken = failure(500)
    first = Scripted([Answer(("par",), error=broken)], provider="a")
    second = Scripted([Answer()], provider="b")

    with pytest.raises(ProviderError) as caught:
        await FallbackClient([first, second]).complete(ask("hi"), [], {}, deltas)

    assert caught.value is broken
    assert second.calls == 0
    assert deltas.text() == "par"


async def test_raises_the_last_failure_noting_the_earlier_ones() -> None:
    last = failure(503)
    client = FallbackClient(
        [Scripted([failure(500)], provider="a"), Scripted([last], provider="b")]
    )

    with pytest.raises(ProviderError) as caught:
        await client.complete(ask("hi"), [], {}, Deltas())

    assert caught.value is last
    assert caught.value.__notes__ == ["earlier fallback failure: a:a-model: scripted failure 500"]


def test_needs_a_client() -> None:
    with pytest.raises(ValueError, match="at least one"):
        FallbackClient([])
