"""The asynchronous client's connection (one call, errors, the store, pages) and the base of
its resources. ``_sync_base.py`` is generated from this file by ``scripts/unasync_client.py``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from loopwright.client.errors import ClientError, TransportFailed, error_from_response
from loopwright.client.models import Me, Page

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8080"


def query(**values: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list | tuple):
            value = ",".join(value)
        out[name] = value
    return out


class AsyncConnection:
    """The HTTP client, the key and the store every resource calls through.

    ``url`` and ``key`` default to ``LOOPWRIGHT_URL`` and ``LOOPWRIGHT_KEY``; ``store`` to the
    key's own store (asked of ``/v1/me`` once; an operator key must name one).
    """

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        store: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        url = url or os.environ.get("LOOPWRIGHT_URL") or DEFAULT_URL
        key = key if key is not None else os.environ.get("LOOPWRIGHT_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.AsyncClient(
            base_url=url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )
        self._store = store

    async def close(self) -> None:
        await self.http.aclose()

    # -- plumbing ------------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        timeout_s: float | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One call; an error answer raises its ``ApiError``, no answer ``TransportFailed``."""
        extra: dict[str, Any] = {} if timeout_s is None else {"timeout": timeout_s}
        if content is not None:
            extra["content"] = content
        if headers is not None:
            extra["headers"] = headers
        try:
            response = await self.http.request(method, path, params=params, json=json, **extra)
        except httpx.TransportError as exc:
            raise TransportFailed(f"{method} {path}: {exc!r}") from exc
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    async def call(
        self,
        model: type[M],
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        timeout_s: float | None = None,
    ) -> M:
        response = await self.request(method, path, params=params, json=json, timeout_s=timeout_s)
        return model.model_validate_json(response.content)

    async def store_path(self) -> str:
        if self._store is None:
            me = await self.me()
            if me.store_id is None:
                raise ClientError("an operator key must name a store: pass store=")
            self._store = me.store_id
        return f"/v1/stores/{self._store}"

    async def store_id(self) -> str:
        return (await self.store_path()).rsplit("/", 1)[1]

    async def me(self) -> Me:
        return await self.call(Me, "GET", "/v1/me")

    async def paginate(
        self, fetch: Callable[..., Awaitable[Page[T]]], /, **params: Any
    ) -> AsyncIterator[T]:
        """Every item of a list, page after page: ``paginate(client.agents.list, q="x")``."""
        cursor: str | None = None
        while True:
            page = await fetch(**params, cursor=cursor)
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            cursor = page.next_cursor


class AsyncResource:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection
