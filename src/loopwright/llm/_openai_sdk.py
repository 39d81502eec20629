"""An ``AsyncOpenAI`` whose chat-completions call skips the SDK's request transform.

Before sending, the SDK walks the request body against its ``TypedDict`` types
(``async_maybe_transform``) to rename aliased keys and format dates or files. No type under
``CompletionCreateParams`` declares such a transform (``tests/llm/test_openai_sdk.py`` checks
that), so for chat completions the walk returns its input unchanged, yet it costs time linear
in the conversation, trying every member of every union: measured here, about 0.7 ms per
conversation turn (25 ms for a 30-turn session, per model request) on the event loop.

The body's fields go out through ``extra_body`` instead, which the SDK merges into the JSON
body as it is: the same body on the wire, without the walk (the common workaround for the same
SDK issue, anthropics/anthropic-sdk-python#1195). Only ``model`` and ``stream``, which decide
what the SDK returns, and the per-request options stay arguments.

Streamed chunks are validated by pydantic-core (``model_validate``, about 4 µs a chunk) instead
of the SDK's lenient recursive ``construct_type`` (30-65 µs); a chunk the schema refuses (some
OpenAI-compatible servers stray from it) still goes the lenient way.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import httpx2
from openai import AsyncOpenAI, NotGiven, Omit
from openai._compat import cached_property
from openai.resources.chat import AsyncChat
from openai.resources.chat.completions import AsyncCompletions
from openai.types.chat import ChatCompletionChunk
from pydantic import ValidationError

ResponseT = TypeVar("ResponseT")

_ARGUMENTS = frozenset({"model", "stream", "extra_headers", "extra_query", "timeout"})
_LISTS = frozenset({"messages", "tools"})  # typed Iterable: the SDK would make them lists


class _PassThroughCompletions(AsyncCompletions):
    async def create(self, **params: Any) -> Any:
        arguments = {k: v for k, v in params.items() if k in _ARGUMENTS}
        body = {
            key: list(value) if key in _LISTS else value
            for key, value in params.items()
            if key not in _ARGUMENTS
            and key != "extra_body"
            and not isinstance(value, Omit | NotGiven)
        }
        body.update(params.get("extra_body") or {})  # the caller's extra_body wins, as in the SDK
        return await super().create(messages=[], extra_body=body, **arguments)


class _PassThroughChat(AsyncChat):
    @cached_property
    def completions(self) -> AsyncCompletions:
        return _PassThroughCompletions(self._client)


class PassThroughAsyncOpenAI(AsyncOpenAI):
    """``AsyncOpenAI`` for pydantic-ai's ``OpenAIChatModel``; every other API is unchanged."""

    @cached_property
    def chat(self) -> AsyncChat:
        return _PassThroughChat(self)

    def _process_response_data(
        self, *, data: object, cast_to: type[ResponseT], response: httpx2.Response
    ) -> ResponseT:
        if cast_to is ChatCompletionChunk and isinstance(data, dict):
            try:
                return cast(ResponseT, ChatCompletionChunk.model_validate(data))
            except ValidationError:
                pass  # off-schema: the SDK's lenient construction below
        return super()._process_response_data(data=data, cast_to=cast_to, response=response)
