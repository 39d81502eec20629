"""OpenTelemetry traces, after the GenAI semantic conventions, exported over OTLP (HTTP/protobuf).

Off unless an endpoint is configured (``otlp_endpoint``): then every helper here is a check of
one flag. On:

- each HTTP request is a server span (``server/observe.py``), continuing a caller's
  ``traceparent``;
- each run is a trace of its own: a root span ``invoke_agent <agent>`` linked to the span that
  was current when its message was accepted (the HTTP request's, or, for a child run, its
  parent's ``execute_tool ask_agent`` span). Its trace and span ids are chosen when the run is
  queued and stored with it (``runs.trace``), so a run that resumes in another process (DBOS
  recovers it after a crash) emits its root span with the same ids and its later spans land
  in the same trace;
- each model request is a ``chat <model>`` span (``gen_ai.provider.name``/``gen_ai.system``,
  ``gen_ai.request.model``, ``gen_ai.response.model``, ``gen_ai.usage.*_tokens``,
  ``gen_ai.response.finish_reasons``), each tool call an ``execute_tool <name>`` span
  (``gen_ai.tool.name``, ``gen_ai.tool.call.id``, ``gen_ai.tool.type``);
- prompts, completions, tool arguments and results only with ``trace_content``.

Spans leave through a ``BatchSpanProcessor`` (a thread of its own): the loop only creates them.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import Link, Span, SpanContext, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

CONTENT_LIMIT = 16_000  # characters of one captured prompt, completion or tool payload

_provider: TracerProvider | None = None
_tracer: trace.Tracer | None = None
_content = False
_preset: ContextVar[tuple[int, int] | None] = ContextVar("loopwright_preset_ids", default=None)
_propagator = TraceContextTextMapPropagator()


class _PresetIds(RandomIdGenerator):
    """Random ids, except for a run's root span, whose ids were chosen when it was queued."""

    def generate_span_id(self) -> int:
        preset = _preset.get()
        return preset[1] if preset is not None else super().generate_span_id()

    def generate_trace_id(self) -> int:
        preset = _preset.get()
        return preset[0] if preset is not None else super().generate_trace_id()


def setup(
    endpoint: str,
    *,
    headers: Mapping[str, str] | None = None,
    content: bool = False,
    instance: str = "",
) -> None:
    """Export spans to ``endpoint`` (an OTLP/HTTP traces URL) from now on."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    global _provider, _tracer, _content
    shutdown()
    attributes = {"service.name": "loopwright"}
    if instance:
        attributes["service.instance.id"] = instance
    provider = TracerProvider(resource=Resource.create(attributes), id_generator=_PresetIds())
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, headers=dict(headers or {})))
    )
    _provider, _tracer, _content = provider, provider.get_tracer("loopwright"), content


def shutdown() -> None:
    """Send what is buffered and stop exporting."""
    global _provider, _tracer
    if _provider is not None:
        _provider.shutdown()
    _provider = _tracer = None


def enabled() -> bool:
    return _tracer is not None


def content_enabled() -> bool:
    return _tracer is not None and _content


def traceparent(context: SpanContext) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def _parse(value: str | None) -> SpanContext | None:
    if not value:
        return None
    found = trace.get_current_span(_propagator.extract({"traceparent": value})).get_span_context()
    return found if found.is_valid else None


def new_run_trace() -> dict[str, Any] | None:
    """What a queued run stores (``runs.trace``): its root span's ids, chosen now, and the span
    current here (the request or the parent's tool call) to link to. None when tracing is off."""
    if _tracer is None:
        return None
    here = trace.get_current_span().get_span_context()
    return {
        "trace_id": f"{int.from_bytes(secrets.token_bytes(16)) or 1:032x}",
        "span_id": f"{int.from_bytes(secrets.token_bytes(8)) or 1:016x}",
        "link": traceparent(here) if here.is_valid else None,
    }


@contextmanager
def run_span(
    stored: Mapping[str, Any] | None,
    *,
    agent: str,
    store_id: str,
    run_id: str,
    session_id: str,
    model: str,
    started_at: datetime | None,
    resumed: bool,
) -> Iterator[Span | None]:
    """The run's root span (current inside), with the ids it was queued with."""
    if _tracer is None:
        yield None
        return
    links = []
    preset: tuple[int, int] | None = None
    if stored:
        link = _parse(stored.get("link"))
        if link is not None:
            links.append(Link(link, {"loopwright.link": "started_by"}))
        try:
            preset = (int(stored["trace_id"], 16), int(stored["span_id"], 16))
        except (KeyError, TypeError, ValueError):
            preset = None
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.id": agent,
        "gen_ai.request.model": model,
        "gen_ai.conversation.id": session_id,
        "loopwright.store_id": store_id,
        "loopwright.run_id": run_id,
        "loopwright.resumed": resumed,
    }
    start_time = int(started_at.timestamp() * 1e9) if resumed and started_at else None
    token = _preset.set(preset)
    try:
        span = _tracer.start_span(
            f"invoke_agent {agent}",
            context=otel_context.Context(),  # a root: not the request that started the workflow
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            links=links,
            start_time=start_time,
        )
    finally:
        _preset.reset(token)
    with trace.use_span(span, end_on_exit=True, record_exception=False):
        yield span


def end_run(span: Span | None, status: str, stop_reason: str | None) -> None:
    if span is not None:
        span.set_attribute("loopwright.run.status", status)
        if stop_reason:
            span.set_attribute("loopwright.run.stop_reason", stop_reason)
        if status in ("failed", "timed_out"):
            span.set_status(trace.StatusCode.ERROR, stop_reason or status)


@contextmanager
def model_span(provider: str, requested: str, model: str, index: int) -> Iterator[Span | None]:
    """``provider``: the configured provider's name; ``requested``: ``provider:model``."""
    if _tracer is None:
        yield None
        return
    attributes: dict[str, str | int] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": model,
        "loopwright.provider": provider,
        "loopwright.model": requested,
        "loopwright.step": index,
    }
    with _tracer.start_as_current_span(
        f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes
    ) as span:
        yield span


def model_answered(
    span: Span | None,
    *,
    system: str | None,
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    finish_reason: str | None,
    response_id: str | None,
) -> None:
    if span is None:
        return
    if system:
        span.set_attribute("gen_ai.provider.name", system)
        span.set_attribute("gen_ai.system", system)
    if model:
        span.set_attribute("gen_ai.response.model", model)
    span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
    if finish_reason:
        span.set_attribute("gen_ai.response.finish_reasons", [finish_reason])
    if response_id:
        span.set_attribute("gen_ai.response.id", response_id)


def failed(span: Span | None, error: BaseException | str) -> None:
    if span is None:
        return
    kind = error if isinstance(error, str) else type(error).__name__
    span.set_attribute("error.type", kind)
    span.set_status(trace.StatusCode.ERROR, kind)


def content(span: Span | None, name: str, value: object) -> None:
    """Record prompt/completion/tool payloads only when the operator turned it on."""
    if span is None or not _content:
        return
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    span.set_attribute(name, text[:CONTENT_LIMIT])


@contextmanager
def tool_span(name: str, call_id: str, kind: str) -> Iterator[Span | None]:
    if _tracer is None:
        yield None
        return
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.id": call_id,
        "gen_ai.tool.type": kind,
    }
    with _tracer.start_as_current_span(
        f"execute_tool {name}", kind=SpanKind.INTERNAL, attributes=attributes
    ) as span:
        yield span


def server_span(method: str, path: str, headers: Mapping[str, str]) -> tuple[Span, object] | None:
    """A server span for an HTTP request (current until ``end_server_span``), continuing the
    caller's ``traceparent`` if it sent one."""
    if _tracer is None:
        return None
    parent = _propagator.extract(dict(headers)) if "traceparent" in headers else None
    span = _tracer.start_span(
        f"{method} {path}",
        context=parent,
        kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "url.path": path},
    )
    token = otel_context.attach(trace.set_span_in_context(span))
    return span, token


def end_server_span(
    opened: tuple[Span, object], method: str, status: int, route: str | None
) -> None:
    span, token = opened
    span.set_attribute("http.response.status_code", status)
    if route:
        span.set_attribute("http.route", route)
        span.update_name(f"{method} {route}")
    if status >= 500:
        span.set_status(trace.StatusCode.ERROR)
    span.end()
    otel_context.detach(token)  # type: ignore[arg-type]
