"""The server's model clients: one shared connection pool, a bounded cache of clients."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.crypto import SecretBox
from loopwright.egress import EgressGuard
from loopwright.runtime import models
from loopwright.runtime.models import ModelResolver
from loopwright.settings import Settings
from tests.llm.fakes import Reply
from tests.llm.helpers import API_KEY, Deltas, Endpoint, ask

# Server-wide providers come from settings: resolving them reads no database row.
NO_SESSION = cast(AsyncSession, None)


def resolver(tmp_path: Path, openai: Endpoint) -> ModelResolver:
    settings = Settings(
        data_dir=tmp_path,
        openai_api_key=SecretStr(API_KEY),
        openai_base_url=openai.base_url,
    )
    box = SecretBox([Fernet.generate_key().decode()])
    return ModelResolver(settings, box, EgressGuard.from_setting("127.0.0.1/32"))


async def test_the_stores_model_clients_share_one_connection_pool(
    tmp_path: Path, fresh: dict[str, Endpoint]
) -> None:
    openai = fresh["openai"]
    openai.fake.push(Reply(text=["one"]), Reply(text=["two"]))
    models_ = resolver(tmp_path, openai)
    try:
        first = await models_.client(NO_SESSION, "store-a", ["openai:m"])
        second = await models_.client(NO_SESSION, "store-b", ["openai:m"])
        assert first is not second  # one client per store...

        await first.complete(ask("hi"), [], {}, Deltas())
        await second.complete(ask("hi"), [], {}, Deltas())
    finally:
        await models_.aclose()

    peers = [r.peer for r in openai.fake.requests]
    assert len(peers) == 2 and peers[0] is not None
    assert peers[0] == peers[1]  # ...and the second request reused the first one's connection


async def test_the_least_recently_used_client_leaves_a_full_cache(
    tmp_path: Path, fresh: dict[str, Endpoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "CLIENTS_CACHED", 2)
    models_ = resolver(tmp_path, fresh["openai"])
    try:
        a = await models_.client(NO_SESSION, "s", ["openai:a"])
        b = await models_.client(NO_SESSION, "s", ["openai:b"])
        assert await models_.client(NO_SESSION, "s", ["openai:a"]) is a  # a is now the newest
        await models_.client(NO_SESSION, "s", ["openai:c"])  # evicts b

        assert await models_.client(NO_SESSION, "s", ["openai:a"]) is a
        assert await models_.client(NO_SESSION, "s", ["openai:b"]) is not b
    finally:
        await models_.aclose()
