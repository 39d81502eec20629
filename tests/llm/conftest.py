"""Fake provider servers (one per wire format, for the whole session) and recorders."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest

from loopwright.llm import ProviderKind
from tests.llm.fakes import FakeLLM, anthropic_app, google_app, openai_app, serve
from tests.llm.helpers import REMOTE_KINDS, Clock, Deltas, Endpoint, Sleeps


@pytest.fixture(scope="session")
async def endpoints() -> AsyncIterator[dict[ProviderKind, Endpoint]]:
    apps = {
        "openai": (openai_app, "/v1"),
        "anthropic": (anthropic_app, ""),
        "google": (google_app, ""),
    }
    async with contextlib.AsyncExitStack() as stack:
        running: dict[ProviderKind, Endpoint] = {}
        for kind in REMOTE_KINDS:
            make_app, suffix = apps[kind]
            fake = FakeLLM()
            base_url = await stack.enter_async_context(serve(make_app(fake)))
            running[kind] = Endpoint(kind, fake, base_url + suffix)
        yield running
        for endpoint in running.values():
            endpoint.fake.reset()  # release any stalled handler before the servers stop


@pytest.fixture
def fresh(endpoints: dict[ProviderKind, Endpoint]) -> Iterator[dict[ProviderKind, Endpoint]]:
    """All fake providers, with empty scripts and request logs."""
    for endpoint in endpoints.values():
        endpoint.fake.reset()
    yield endpoints
    for endpoint in endpoints.values():
        endpoint.fake.reset()


@pytest.fixture(params=REMOTE_KINDS)
def endpoint(request: pytest.FixtureRequest, fresh: dict[ProviderKind, Endpoint]) -> Endpoint:
    kind: ProviderKind = request.param
    return fresh[kind]


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def deltas() -> Deltas:
    return Deltas()


@pytest.fixture
def clock() -> Clock:
    return Clock()
