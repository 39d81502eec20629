"""An ``AsyncOpenAI`` whose chat-completions call hands back the request instead of sending it.

pydantic-ai's ``OpenAIChatModel`` builds a chat request from its profile for the model (which
fields, which roles, how thinking goes back) and passes it to the SDK's ``create``. Here that
``create`` returns the request as a ``ChatRequest``: ``llm/openai_chat.py`` sends it and reads
the stream itself. The body is pydantic-ai's as it is: the stock ``create`` first walks it
against the SDK's ``TypedDict`` types (``async_maybe_transform``) to rename aliased keys and
format dates or files, but no type under ``CompletionCreateParams`` declares such a transform
(``tests/llm/test_openai_sdk.py`` checks that), so for chat completions the walk returns its
input unchanged, at a cost linear in the conversation (about 0.7 ms per turn of it, per
request, measured here). ``extra_body`` is merged over the body, as the SDK merges it.

Streamed chunks, when pydantic-ai's own stream reader needs them as SDK objects, are validated
by pydantic-core (``model_validate``, about 4 µs a chunk) instead of the SDK's lenient
recursive ``construct_type`` (30-65 µs); a chunk the schema refuses (some OpenAI-compatible
servers stray from it) still goes the lenient way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import httpx2
from openai import AsyncOpenAI, NotGiven, Omit
from openai._compat import cached_property
from openai.resources.chat import AsyncChat
from openai.resources.chat.completions import AsyncCompletions
from openai.types.chat import ChatCompletionChunk
from pydantic import ValidationError

ResponseT = TypeVar("ResponseT")

_OPTIONS = frozenset({"extra_headers", "extra_query", "extra_body", "timeout"})
_LISTS = frozenset({"messages", "tools"})  # typed Iterable: the SDK would make them lists


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A chat-completions request as the SDK would send it."""

    body: dict[str, Any]
    headers: Mapping[str, str]
    """The SDK's headers (authorization included), with the call's extra headers over them."""
    query: Mapping[str, object] | None
    timeout: object
    """The call's ``timeout`` (an ``httpx2.Timeout``, a number, or ``NOT_GIVEN``)."""


class _CapturingCompletions(AsyncCompletions):
    async def create(self, **params: Any) -> Any:
        body = {
            key: list(value) if key in _LISTS else value
            for key, value in params.items()
            if key not in _OPTIONS and not isinstance(value, Omit | NotGiven)
        }
        extra_body = params.get("extra_body")
        if isinstance(extra_body, Mapping):
            body.update(extra_body)
        client = cast(CapturingAsyncOpenAI, self._client)
        headers = dict(client.request_headers)
        extra_headers = params.get("extra_headers")
        if isinstance(extra_headers, Mapping):
            headers.update({k: v for k, v in extra_headers.items() if isinstance(v, str)})
        query = params.get("extra_query")
        return ChatRequest(
            body=body,
            headers=headers,
            query=query if isinstance(query, Mapping) else None,
            timeout=params.get("timeout"),
        )


class _CapturingChat(AsyncChat):
    @cached_property
    def completions(self) -> AsyncCompletions:
        return _CapturingCompletions(self._client)


class CapturingAsyncOpenAI(AsyncOpenAI):
    """``AsyncOpenAI`` for pydantic-ai's ``OpenAIChatModel``: ``chat.completions.create`` returns
    a ``ChatRequest``; every other API is the SDK's."""

    @cached_property
    def chat(self) -> AsyncChat:
        return _CapturingChat(self)

    @cached_property
    def request_headers(self) -> dict[str, str]:
        """What the SDK sends on every request: its defaults (platform, user agent) and the key."""
        headers = {k: v for k, v in self.default_headers.items() if isinstance(v, str)}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    @cached_property
    def chat_completions_url(self) -> str:
        return f"{self.base_url}chat/completions"  # the SDK keeps base_url ending in "/"

    def _process_response_data(
        self, *, data: object, cast_to: type[ResponseT], response: httpx2.Response
    ) -> ResponseT:
        if cast_to is ChatCompletionChunk and isinstance(data, dict):
            try:
                return cast(ResponseT, ChatCompletionChunk.model_validate(data))
            except ValidationError:
                pass  # off-schema: the SDK's lenient construction below
        return super()._process_response_data(data=data, cast_to=cast_to, response=response)
