"""OpenAI-compatible chat completions: pydantic-ai builds the request, this module streams it.

Through the SDK and pydantic-ai's stream reader, a turn's two model requests took 40% of the
event loop's time at c=10 (py-spy, ``bench.per_core --py-spy``): the SDK's request building
and SSE decoder, a validated SDK object per chunk, and six nested async generators per event
in pydantic-ai. Here:

* the request is still pydantic-ai's: ``OpenAIChatModel`` builds it from its profile for the
  model, and its SDK call is captured (``_openai_sdk.CapturingAsyncOpenAI``) instead of sent;
* it is posted on the shared httpx2 client with the SDK's headers, and the server-sent events
  are read line by line;
* chunks in the common shapes (text, the ``reasoning``/``reasoning_content`` fields, tool
  calls, a finish reason, usage) are folded into the ``ModelResponse`` that pydantic-ai's
  ``OpenAIStreamedResponse`` builds from them (``tests/llm/test_openai_chat.py`` compares the
  two over a corpus of streams);
* a chunk in any other shape (a thinking tag, a refusal, annotations, log-probabilities, list
  content, a zero-width character, a tool call without its id or name, ...) hands the stream,
  the chunks already read replayed first, to pydantic-ai's ``OpenAIStreamedResponse``; deltas
  already forwarded are not forwarded again. So does every stream of a model whose profile
  changes how chunks read.

Failures are raised as the SDK raises them and mapped by pydantic-ai's ``map_api_errors``, so
a failed request reads as it did through the SDK. This leans on three of pydantic-ai's
private methods (``_completions_create``, ``_process_streamed_response``, the stream's
request timing), pinned by the tests above.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from copy import copy
from datetime import timedelta
from typing import Any, cast

import httpx2
from openai import APIConnectionError, APIError, APITimeoutError, NotGiven
from openai._httpx2 import request_exceptions, timeout_exceptions
from openai.types.chat import ChatCompletionChunk
from pydantic_ai import ToolDefinition
from pydantic_ai._utils import now_utc, number_to_datetime
from pydantic_ai.exceptions import ModelAPIError, ModelEmptyResponseError, UnexpectedModelBehavior
from pydantic_ai.messages import (
    FinishReason,
    ModelMessage,
    ModelResponse,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.models._decode_errors import map_decode_errors
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIChatModelSettings
from pydantic_ai.models.openai._chat_completions import CHAT_FINISH_REASON_MAP
from pydantic_ai.models.openai._errors import map_api_errors
from pydantic_ai.models.openai._response_fields import map_usage
from pydantic_ai.profiles import DEFAULT_THINKING_TAGS
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RequestUsage

from loopwright.llm._openai_sdk import CapturingAsyncOpenAI, ChatRequest
from loopwright.llm.client import DeltaSink, ModelDelta
from loopwright.llm.pydantic_client import TRANSPORT_ERRORS, delta_of, provider_error

_PROFILE_KEYS = (
    "openai_chat_thinking_field",
    "ignore_streamed_leading_whitespace",
    "tool_call_ids_are_response_scoped",
    "openai_chat_streaming_repeats_usage_totals",
    "openai_chat_completion_tokens_omit_reasoning",
    "openai_chat_streaming_requires_finish_reason",
)
"""Profile settings that change how chunks read: a model with any of them set is read by
pydantic-ai throughout."""

_SETTING_KEYS = (
    "openai_continuous_usage_stats",
    "openai_include_raw_annotations",
    "openai_include_unmapped_response_data",
)

_REASONING_FIELDS = ("reasoning", "reasoning_content")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]|\\\\u(200[bcd]|2060|feff)", re.I)
"""A character a special token's joiner may be (pydantic-ai restores those), raw or escaped
in JSON arguments."""

_TOOL_CALL_KEYS = frozenset({"index", "id", "type", "function"})
_DONE_DRAIN_S = 0.1
"""How long the body may go on after ``[DONE]`` (the SDK drains it for as long)."""

VendorId = tuple[str, int] | tuple[str, str, int] | int


class OpenAIChatClient:
    """A ``ModelClient`` for one model at an OpenAI-compatible endpoint."""

    def __init__(
        self,
        model: OpenAIChatModel,
        sdk: CapturingAsyncOpenAI,
        http: httpx2.AsyncClient,
        provider: str,
    ) -> None:
        self._model = model
        self._sdk = sdk
        self._http = http
        self._provider = provider
        profile = model.profile
        self._think_tag = (profile.get("thinking_tags") or DEFAULT_THINKING_TAGS)[0]
        self._folds = not any(profile.get(key) for key in _PROFILE_KEYS)

    @property
    def provider(self) -> str:
        return self._provider

    @property
    def model(self) -> str:
        return self._model.model_name

    async def complete(
        self,
        messages: list[ModelMessage],
        tools: list[ToolDefinition],
        settings: ModelSettings,
        on_delta: DeltaSink,
    ) -> ModelResponse:
        params = ModelRequestParameters(function_tools=list(tools), allow_text_output=True)
        model = self._model
        try:
            with map_api_errors(model.model_name, model._provider.model_id_namespace):
                prepared_settings, prepared = model.prepare_request(settings, params)
                chat_settings = cast(OpenAIChatModelSettings, prepared_settings or {})
                request = await model._completions_create(messages, True, chat_settings, prepared)
                if isinstance(request, ModelResponse):
                    return request  # answered without a request (a content filter)
                assert isinstance(request, ChatRequest)
                stream = _Stream(self, request, chat_settings, prepared, on_delta)
                return await stream.run()
        except (ModelAPIError, UnexpectedModelBehavior, TimeoutError, *TRANSPORT_ERRORS) as exc:
            raise provider_error(self._provider, self.model, exc) from exc


class _Stream:
    """One request: sent, read, folded (or handed to pydantic-ai), closed."""

    def __init__(
        self,
        client: OpenAIChatClient,
        request: ChatRequest,
        settings: OpenAIChatModelSettings,
        params: ModelRequestParameters,
        on_delta: DeltaSink,
    ) -> None:
        self._client = client
        self._request = request
        self._settings = settings
        self._params = params
        self._on_delta = on_delta
        self._forwarded = {"text": 0, "reasoning": 0}
        self._folds = client._folds and not any(settings.get(k) for k in _SETTING_KEYS)

    async def run(self) -> ModelResponse:
        requested_at = now_utc()
        start_ns = time.perf_counter_ns()
        response = await self._send()
        try:
            chunks = _Chunks(response, self._client.model)
            read: list[object] = []
            fold = _Fold(self._client._model, self._client._think_tag, requested_at, start_ns)
            async for chunk in chunks:
                read.append(chunk)
                if not self._folds or not fold.takes(chunk):
                    return await self._hand_over(read, chunks, response, requested_at, start_ns)
                for delta in fold.add(cast(dict[str, Any], chunk)):
                    self._forwarded[delta.kind] += len(delta.text)
                    await self._on_delta(delta)
                await asyncio.sleep(0)  # a chunk at a time: other requests' turns come between
            if not read:
                raise ModelEmptyResponseError(
                    self._client.model, "Streamed response ended without content or tool calls"
                )
            return fold.response()
        finally:
            await response.aclose()

    async def _send(self) -> httpx2.Response:
        request, sdk = self._request, self._client._sdk
        timeout = request.timeout
        http_request = self._client._http.build_request(
            "POST",
            sdk.chat_completions_url,
            content=json.dumps(request.body, ensure_ascii=False, separators=(",", ":")).encode(),
            headers=request.headers,
            params=cast(Any, request.query),
            timeout=httpx2.USE_CLIENT_DEFAULT
            if timeout is None or isinstance(timeout, NotGiven)
            else cast(Any, timeout),
        )
        try:
            response = await self._client._http.send(http_request, stream=True)
        except timeout_exceptions() as err:
            raise APITimeoutError(request=http_request) from err
        except request_exceptions() as err:
            raise APIConnectionError(request=http_request) from err
        if response.status_code >= 400:
            try:
                await response.aread()
            finally:
                await response.aclose()
            raise sdk._make_status_error_from_response(response)
        return response

    async def _hand_over(
        self,
        read: list[object],
        chunks: _Chunks,
        response: httpx2.Response,
        requested_at: Any,
        start_ns: int,
    ) -> ModelResponse:
        """pydantic-ai reads the stream from its first chunk; forwarded text is not sent again."""
        sdk = self._client._sdk

        def as_chunk(data: object) -> ChatCompletionChunk:
            return sdk._process_response_data(
                data=data, cast_to=ChatCompletionChunk, response=response
            )

        model = self._client._model
        replay = _Replay(read, chunks, as_chunk)
        streamed = await model._process_streamed_response(
            cast(Any, replay), self._params, self._settings
        )
        streamed._request_start_ns = start_ns
        streamed._request_timestamp = requested_at
        async for event in streamed:
            delta = delta_of(event)
            if delta is None:
                continue
            seen = self._forwarded[delta.kind]
            if seen >= len(delta.text):
                self._forwarded[delta.kind] = seen - len(delta.text)
                continue
            self._forwarded[delta.kind] = 0
            await self._on_delta(ModelDelta(delta.kind, delta.text[seen:]))
        return streamed.get()


class _Chunks:
    """The stream's JSON payloads, up to ``[DONE]``, raising what the SDK's stream raises."""

    def __init__(self, response: httpx2.Response, model_name: str) -> None:
        self._response = response
        self._lines = response.aiter_lines()
        self._model_name = model_name
        self._done = False

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> object:
        if self._done:
            raise StopAsyncIteration
        data: list[str] = []
        try:
            async for line in self._lines:
                if line.startswith("data:"):
                    value = line[5:]
                    data.append(value[1:] if value.startswith(" ") else value)
                elif not line and data:
                    payload = "\n".join(data)
                    if payload.startswith("[DONE]"):
                        await self._drain()
                        break
                    return self._parse(payload)
                # event:, id:, retry: and comments carry nothing for chat completions
        except timeout_exceptions() as err:
            raise APITimeoutError(request=self._response.request) from err
        except request_exceptions() as err:
            raise APIConnectionError(request=self._response.request) from err
        self._done = True
        raise StopAsyncIteration

    async def _drain(self) -> None:
        """Read the body to its end (at once, on HTTP/1.1), so the connection goes back to the
        pool and the line readers return; a body that goes on is left after a moment."""
        try:
            async with asyncio.timeout(_DONE_DRAIN_S):
                async for _ in self._lines:
                    pass
        except TimeoutError:
            pass

    def _parse(self, payload: str) -> object:
        with map_decode_errors(self._model_name):
            data: object = json.loads(payload)
        if isinstance(data, dict) and data.get("error"):
            error = data["error"]
            message = error.get("message") if isinstance(error, dict) else None
            if not message or not isinstance(message, str):
                message = "An error occurred during streaming"
            raise APIError(message=message, request=self._response.request, body=error)
        return data

    async def close(self) -> None:
        await self._response.aclose()


class _Replay:
    """The chunks already read, then the rest: the SDK stream pydantic-ai's reader expects."""

    def __init__(self, read: list[object], rest: _Chunks, as_chunk: Any) -> None:
        self._read = iter(read)
        self._rest = rest
        self._as_chunk = as_chunk

    def __aiter__(self) -> _Replay:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        data = next(self._read, None)
        if data is None:
            data = await self._rest.__anext__()
        return cast(ChatCompletionChunk, self._as_chunk(data))

    async def close(self) -> None:
        await self._rest.close()


class _Fold:
    """The ``ModelResponse`` pydantic-ai's ``OpenAIStreamedResponse`` builds, for chunks in the
    shapes ``takes`` accepts, with its part boundaries (``_advance_part_boundary``)."""

    def __init__(
        self, model: OpenAIChatModel, think_tag: str, requested_at: Any, start_ns: int
    ) -> None:
        self._model = model
        self._think_tag = think_tag
        self._requested_at = requested_at
        self._start_ns = start_ns
        self._provider_name = model._provider.name
        self._provider_url = model._provider.base_url
        self._model_name: str | None = None
        self._timestamp = now_utc()
        self._parts: list[TextPart | ThinkingPart | ToolCallPart] = []
        self._pieces: list[list[str] | None] = []  # text, thinking or arguments, per part
        self._by_vendor: dict[VendorId, int] = {}
        self._content_generation = 0
        self._reasoning_generation = 0
        self._usage = RequestUsage()
        self._usage_received = False
        self._response_id: str | None = None
        self._provider_timestamp: object = None
        self._details: dict[str, Any] = {}
        self._finish_reason: FinishReason | None = None
        self._has_finish_reason = False

    def takes(self, chunk: object) -> bool:
        """Whether ``add`` reads ``chunk`` exactly as pydantic-ai would (checked before any of it
        is applied)."""
        if not isinstance(chunk, dict) or chunk.get("moderation"):
            return False
        for key in ("id", "model"):
            if not isinstance(chunk.get(key), str | None):
                return False
        created = chunk.get("created")
        if isinstance(created, bool) or not isinstance(created, int | float | None):
            return False
        if not isinstance(chunk.get("usage"), dict | None):
            return False
        choices = chunk.get("choices")
        if not choices:
            return choices is None or isinstance(choices, list)
        if not isinstance(choices, list):
            return False
        choice = choices[0]
        if not isinstance(choice, dict) or not isinstance(choice.get("finish_reason"), str | None):
            return False
        logprobs = choice.get("logprobs")
        if logprobs and (not isinstance(logprobs, dict) or logprobs.get("content")):
            return False
        delta = choice.get("delta")
        if delta is None:
            return True
        if not isinstance(delta, dict) or delta.get("refusal") or "annotations" in delta:
            return False
        content = delta.get("content")
        if content is not None:
            if not isinstance(content, str) or _ZERO_WIDTH.search(content):
                return False
            if content == self._think_tag:
                return False
        for name in _REASONING_FIELDS:
            value = delta.get(name)
            if value and (not isinstance(value, str) or _ZERO_WIDTH.search(value)):
                return False
        return self._takes_tool_calls(delta.get("tool_calls"))

    def _takes_tool_calls(self, calls: object) -> bool:
        if calls is None:
            return True
        if not isinstance(calls, list):
            return False
        for call in calls:
            if not isinstance(call, dict) or not _TOOL_CALL_KEYS.issuperset(call):
                return False
            index, call_id, function = call.get("index"), call.get("id"), call.get("function")
            if not isinstance(index, int) or isinstance(index, bool):
                return False
            if not isinstance(function, dict | None):
                return False
            name = function.get("name") if function else None
            arguments = function.get("arguments") if function else None
            if not isinstance(arguments, str | None) or (
                arguments and _ZERO_WIDTH.search(arguments)
            ):
                return False
            known = self._by_vendor.get(index)
            if known is None:
                # a call starts with its id and name (else pydantic-ai holds a partial delta)
                if not (isinstance(call_id, str) and call_id and isinstance(name, str) and name):
                    return False
            else:
                part = self._parts[known]
                if name or (call_id and call_id != getattr(part, "tool_call_id", None)):
                    return False
        return True

    def add(self, chunk: dict[str, Any]) -> list[ModelDelta]:
        self._add_top_level(chunk)
        choices = chunk.get("choices")
        if not choices:
            return []
        choice = choices[0]
        raw_finish_reason = choice.get("finish_reason")
        self._has_finish_reason = self._has_finish_reason or bool(raw_finish_reason)
        delta = choice.get("delta")
        if delta is None:
            return []
        if raw_finish_reason:
            self._finish_reason = CHAT_FINISH_REASON_MAP.get(raw_finish_reason)
            self._details["finish_reason"] = raw_finish_reason
        deltas: list[ModelDelta] = []
        for name in _REASONING_FIELDS:
            value = delta.get(name)
            if value:
                deltas.append(self._thinking(name, value))
                break
        content = delta.get("content")
        if content:
            deltas.append(self._text(content))
        for call in delta.get("tool_calls") or ():
            self._tool_call(call)
        return deltas

    def _add_top_level(self, chunk: dict[str, Any]) -> None:
        created = chunk.get("created")
        if self._provider_timestamp is None and created:
            self._provider_timestamp = number_to_datetime(created)
            self._details["timestamp"] = self._provider_timestamp
        if self._model_name is None:  # the first chunk names the model, as pydantic-ai reads it
            self._model_name = chunk.get("model") or self._model.model_name
        if chunk.get("usage") is not None:
            sdk_chunk = ChatCompletionChunk.model_validate(chunk)
            usage = copy(
                map_usage(sdk_chunk, self._provider_name, self._provider_url, self._model_name)
            )
            usage.unmeasured_requests = 0
            self._usage = self._usage + usage
            self._usage_received = True
        if chunk.get("id"):
            self._response_id = chunk["id"]
        if chunk.get("model"):
            self._model_name = chunk["model"]
        if chunk.get("service_tier"):
            self._details["service_tier"] = chunk["service_tier"]

    def _thinking(self, field: str, text: str) -> ModelDelta:
        vendor = ("reasoning", field, self._reasoning_generation)
        if not self._append(vendor, text):
            part = ThinkingPart(content="", id=field, provider_name=self._provider_name)
            self._start(vendor, part, text)
            self._advance_part_boundary("reasoning")
        return ModelDelta("reasoning", text)

    def _text(self, text: str) -> ModelDelta:
        vendor = ("content", self._content_generation)
        if not self._append(vendor, text):
            self._start(vendor, TextPart(content=""), text)
            self._advance_part_boundary("content")
        return ModelDelta("text", text)

    def _tool_call(self, call: dict[str, Any]) -> None:
        index: int = call["index"]
        function = call.get("function") or {}
        arguments = function.get("arguments")
        if index in self._by_vendor:
            if arguments is not None:
                self._append(index, arguments)
            return
        part = ToolCallPart(function["name"], None, call["id"])
        self._start(index, part, arguments)
        self._advance_part_boundary("tool")

    def _start(
        self, vendor: VendorId, part: TextPart | ThinkingPart | ToolCallPart, first: str | None
    ) -> None:
        self._by_vendor[vendor] = len(self._parts)
        self._parts.append(part)
        self._pieces.append(None if first is None else [first])

    def _append(self, vendor: VendorId, text: str) -> bool:
        index = self._by_vendor.get(vendor)
        if index is None:
            return False
        pieces = self._pieces[index]
        if pieces is None:
            self._pieces[index] = [text]
        else:
            pieces.append(text)
        return True

    def _advance_part_boundary(self, source: str) -> None:
        if source != "reasoning":
            self._reasoning_generation += 1
        content = self._by_vendor.get(("content", self._content_generation))
        if source != "content" and content is not None:
            self._content_generation += 1

    def response(self) -> ModelResponse:
        for part, pieces in zip(self._parts, self._pieces, strict=True):
            joined = None if pieces is None else "".join(pieces)
            if isinstance(part, ToolCallPart):
                part.args = joined
            else:
                part.content = joined or ""
        if not self._has_finish_reason:
            self._finish_reason = "stop"  # some OpenAI-compatible servers never send one
        usage = self._usage
        if not self._usage_received:
            usage = usage + RequestUsage(unmeasured_requests=1)
        ended_ns = time.perf_counter_ns()
        return ModelResponse(
            parts=list(self._parts),
            model_name=self._model_name or self._model.model_name,
            timestamp=self._timestamp,
            request_timestamp=self._requested_at,
            duration=timedelta(microseconds=(ended_ns - self._start_ns) // 1000),
            usage=usage,
            provider_name=self._provider_name,
            provider_url=self._provider_url,
            canonical_system=self._model._canonical_system_stamp,
            provider_response_id=self._response_id,
            provider_details=self._details or None,
            finish_reason=self._finish_reason,
            state="complete",
        )
