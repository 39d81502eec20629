"""An ``AsyncOpenAI`` whose chat-completions call skips the SDK's request transform.

Before sending, the SDK walks the request body against its ``TypedDict`` types
(``async_maybe_transform``) to rename aliased keys and format dates or files. No type under
``CompletionCreateParams`` declares such a transform (``tests/llm/test_openai_sdk.py`` checks
that), so for chat completions the walk returns its input unchanged, yet it costs time linear
in the conversation, trying every member of every union: measured here, about 0.7 ms per
conversation turn (25 ms for a 30-turn session, per model request) on the event loop.

``messages`` and ``tools`` go out through ``extra_body`` instead, which the SDK merges into
the JSON body as it is: the same bytes on the wire, without the walk. The common workaround
for the same SDK issue (anthropics/anthropic-sdk-python#1195).
"""

from __future__ import annotations

from typing import Any

from openai import AsyncOpenAI, Omit, omit
from openai._compat import cached_property
from openai.resources.chat import AsyncChat
from openai.resources.chat.completions import AsyncCompletions

_PASSED_THROUGH = ("messages", "tools")


class _PassThroughCompletions(AsyncCompletions):
    async def create(self, **params: Any) -> Any:
        body: dict[str, Any] = dict(params.pop("extra_body", None) or {})
        for key in _PASSED_THROUGH:
            value = params.pop(key, omit)
            if not isinstance(value, Omit):
                body.setdefault(key, list(value))
        return await super().create(messages=[], extra_body=body, **params)


class _PassThroughChat(AsyncChat):
    @cached_property
    def completions(self) -> AsyncCompletions:
        return _PassThroughCompletions(self._client)


class PassThroughAsyncOpenAI(AsyncOpenAI):
    """``AsyncOpenAI`` for pydantic-ai's ``OpenAIChatModel``; every other API is unchanged."""

    @cached_property
    def chat(self) -> AsyncChat:
        return _PassThroughChat(self)
