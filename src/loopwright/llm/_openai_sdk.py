"""An ``AsyncOpenAI`` whose chat-completions call posts pydantic-ai's body as it is.

Before sending, the SDK's ``create`` walks the request body against its ``TypedDict`` types
(``async_maybe_transform``) to rename aliased keys and format dates or files. No type under
``CompletionCreateParams`` declares such a transform (``tests/llm/test_openai_sdk.py`` checks
that), so for chat completions the walk returns its input unchanged, yet it costs time linear
in the conversation, trying every member of every union: measured here, about 0.7 ms per
conversation turn (25 ms for a 30-turn session, per model request) on the event loop. So
``create`` here posts the body through the SDK's own ``_post``, as the stock method does after
its walk: the same request on the wire, with the SDK's headers, auth, timeout, error mapping
and streaming. (The same SDK issue: anthropics/anthropic-sdk-python#1195.)

A stream's reading generators (the SSE decoder's, httpx2's, httpcore2's) are run to their end
at ``[DONE]`` (``_ChunkStream``): the SDK stops at ``[DONE]`` and leaves them suspended, and the
event loop then closes each one it collects in a task of its own (4 per model request).

Streamed chunks are validated by pydantic-core (``model_validate``, about 4 µs a chunk) instead
of the SDK's lenient recursive ``construct_type`` (30-65 µs); a chunk the schema refuses (some
OpenAI-compatible servers stray from it) still goes the lenient way.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, TypeVar, cast

import anyio
import httpx2
from openai import AsyncOpenAI, AsyncStream, NotGiven, Omit, not_given
from openai._base_client import make_request_options
from openai._compat import cached_property
from openai._streaming import ServerSentEvent
from openai.resources.chat import AsyncChat
from openai.resources.chat.completions import AsyncCompletions
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import ValidationError

ResponseT = TypeVar("ResponseT")

_OPTIONS = frozenset({"extra_headers", "extra_query", "extra_body", "timeout"})
_LISTS = frozenset({"messages", "tools"})  # typed Iterable: the SDK would make them lists


_DONE_DRAIN_S = 0.1
"""How long the body may go on after ``[DONE]`` (the SDK drains it for as long)."""


class _ChunkStream(AsyncStream[ChatCompletionChunk]):
    """The SDK's stream of chunks, whose reading ends with the body rather than at ``[DONE]``.

    The SDK's ``__stream__`` breaks out of its event loop at ``[DONE]`` and drains the body
    itself, leaving four nested async generators suspended for the event loop to close (a task
    each). Here the events end after ``[DONE]`` once the body has (an HTTP/1.1 body ends with
    its last chunk, at once), so every generator returns; the SDK then finds no ``[DONE]``,
    skips its drain and closes the response as it always does. A body that goes on after
    ``[DONE]`` is read for at most ``_DONE_DRAIN_S``, as the SDK would, then left."""

    async def _iter_events(self) -> AsyncIterator[ServerSentEvent]:
        # an async generator, which the SDK annotates as an iterator
        events = cast(AsyncGenerator[ServerSentEvent, None], super()._iter_events())
        async for sse in events:
            if sse.data.startswith("[DONE]"):
                with anyio.move_on_after(_DONE_DRAIN_S):
                    async for _ in events:
                        pass
                    return
                await events.aclose()  # the body went on: the rest is dropped
                return
            yield sse


class _PassThroughCompletions(AsyncCompletions):
    async def create(self, **params: Any) -> Any:
        body = {
            key: list(value) if key in _LISTS else value
            for key, value in params.items()
            if key not in _OPTIONS and not isinstance(value, Omit | NotGiven)
        }
        stream = bool(body.get("stream"))
        return await self._post(
            "/chat/completions",
            body=body,
            options=make_request_options(
                extra_headers=params.get("extra_headers"),
                extra_query=params.get("extra_query"),
                extra_body=params.get("extra_body"),  # merged over the body, as in the SDK
                timeout=params.get("timeout", not_given),
                security={"bearer_auth": True},
            ),
            cast_to=ChatCompletion,
            stream=stream,
            stream_cls=_ChunkStream,
        )


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
