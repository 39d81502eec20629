"""Prometheus metrics: what each process records, and the text ``/metrics`` answers.

One process: the default registry. ``serve --processes N``: the supervisor gives its children
one directory of its own (``PROMETHEUS_MULTIPROC_DIR``, made empty at its start) and
prometheus-client's multiprocess mode writes every value to a file there, so one scrape of any
process reads the whole server (counters and histograms summed, live gauges summed or maxed
over the live processes). Values the database holds (runs queued, running, waiting, the oldest
queued) are not recorded here: ``/metrics`` reads them when it is scraped (``database_families``).

Label values are bounded: run and session ids are never labels, and each label keeps at most
``MAX_VALUES`` distinct values per process; later ones are counted under ``_other``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
MAX_VALUES = 1000
OTHER = "_other"

_RUN_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
_QUEUE_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800)
_CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_APPEND_BUCKETS = (0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)

RUNS_FINISHED = Counter(
    "loopwright_runs_finished",
    "Runs that ended, by store, agent and final status",
    ["store", "agent", "status"],
)
RUN_DURATION = Histogram(
    "loopwright_run_duration_seconds",
    "From a run's start to its end (waiting for child runs included)",
    ["store", "agent"],
    buckets=_RUN_BUCKETS,
)
RUN_QUEUED = Histogram(
    "loopwright_run_queued_seconds",
    "From a run's message to its start (time in the queue)",
    ["store"],
    buckets=_QUEUE_BUCKETS,
)
MODEL_REQUESTS = Counter(
    "loopwright_model_requests",
    "Model requests of runs (retries and fallbacks inside one), by provider, model, outcome",
    ["provider", "model", "outcome"],
)
MODEL_ERRORS = Counter(
    "loopwright_model_errors",
    "Model requests that failed, by provider, model and reason",
    ["provider", "model", "reason"],
)
MODEL_LATENCY = Histogram(
    "loopwright_model_request_duration_seconds",
    "One model request, streamed to its end",
    ["provider", "model"],
    buckets=_CALL_BUCKETS,
)
TOKENS = Counter(
    "loopwright_tokens",
    "Tokens of model requests, by store, provider:model and direction (input, output)",
    ["store", "model", "direction"],
)
TOOL_CALLS = Counter(
    "loopwright_tool_calls",
    "Tool calls of runs, by store, tool and outcome",
    ["store", "tool", "outcome"],
)
TOOL_LATENCY = Histogram(
    "loopwright_tool_call_duration_seconds",
    "One tool call",
    ["store", "tool"],
    buckets=_CALL_BUCKETS,
)
BREAKER_STATE = Gauge(
    "loopwright_breaker_state",
    "A model endpoint's circuit breaker: 0 closed, 1 half-open, 2 open (the worst process)",
    ["endpoint"],
    multiprocess_mode="livemax",
)
SUBSCRIBERS = Gauge(
    "loopwright_stream_subscribers",
    "Open event streams, by kind (sse, websocket)",
    ["kind"],
    multiprocess_mode="livesum",
)
APPEND_LATENCY = Histogram(
    "loopwright_event_append_seconds",
    "One append to a store's event log, in the caller's transaction (on PostgreSQL, from the"
    " append to its result: it goes with the transaction's next statement)",
    buckets=_APPEND_BUCKETS,
)

BREAKER_VALUES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}
_on = [True]


def record(on: bool) -> None:
    """Record from now on, or not (``metrics = false``: every call below returns at once)."""
    _on[0] = on


class _Bounded:
    """At most ``MAX_VALUES`` distinct values of one label in this process."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= MAX_VALUES:
            return OTHER
        self._seen.add(value)
        return value


_store = _Bounded()
_agent = _Bounded()
_model = _Bounded()
_tool = _Bounded()
_endpoint = _Bounded()


def run_finished(
    store: str, agent: str, status: str, started: datetime | None, ended: datetime
) -> None:
    if not _on[0]:
        return
    store, agent = _store(store), _agent(agent)
    RUNS_FINISHED.labels(store, agent, status).inc()
    if started is not None:
        RUN_DURATION.labels(store, agent).observe(max(0.0, (ended - started).total_seconds()))


def run_started(store: str, queued_s: float) -> None:
    if not _on[0]:
        return
    RUN_QUEUED.labels(_store(store)).observe(max(0.0, queued_s))


def model_request(
    store: str,
    provider: str,
    model: str,
    seconds: float,
    *,
    input_tokens: int = 0,
    output_tokens: int = 0,
    error: str | None = None,
) -> None:
    if not _on[0]:
        return
    provider, model = _model(provider), _model(model)
    MODEL_LATENCY.labels(provider, model).observe(seconds)
    MODEL_REQUESTS.labels(provider, model, "error" if error else "ok").inc()
    if error:
        MODEL_ERRORS.labels(provider, model, error).inc()
        return
    store, named = _store(store), _model(f"{provider}:{model}")
    if input_tokens:
        TOKENS.labels(store, named, "input").inc(input_tokens)
    if output_tokens:
        TOKENS.labels(store, named, "output").inc(output_tokens)


def tool_call(store: str, tool: str, outcome: str, seconds: float) -> None:
    if not _on[0]:
        return
    store, tool = _store(store), _tool(tool)
    TOOL_CALLS.labels(store, tool, outcome).inc()
    TOOL_LATENCY.labels(store, tool).observe(seconds)


def breaker(endpoint: str, state: str) -> None:
    if not _on[0]:
        return
    BREAKER_STATE.labels(_endpoint(endpoint)).set(BREAKER_VALUES.get(state, 0.0))


@contextmanager
def subscriber(kind: str) -> Iterator[None]:
    if not _on[0]:
        yield
        return
    gauge = SUBSCRIBERS.labels(kind)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


def observe_append(seconds: float) -> None:
    if _on[0]:
        APPEND_LATENCY.observe(seconds)


@dataclass(frozen=True, slots=True)
class RunCounts:
    """The runs not ended yet of one store and status, read from the database at scrape."""

    store: str
    status: str
    count: int
    oldest_age_s: float


def database_families(counts: Iterable[RunCounts]) -> list[GaugeMetricFamily]:
    runs = GaugeMetricFamily(
        "loopwright_runs",
        "Runs not ended, by store and status (queued, running, waiting): the database's count",
        labels=["store", "status"],
    )
    oldest = GaugeMetricFamily(
        "loopwright_oldest_queued_run_age_seconds",
        "How long the store's oldest queued run has waited",
        labels=["store"],
    )
    for one in counts:
        runs.add_metric([one.store, one.status], one.count)
        if one.status == "queued":
            oldest.add_metric([one.store], one.oldest_age_s)
    return [runs, oldest]


class _Families(Collector):
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return self.families


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition(extra: list[GaugeMetricFamily]) -> bytes:
    """The whole server's metrics in Prometheus text format, with ``extra`` families."""
    path = multiprocess_dir()
    if path is not None:
        recorded = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(recorded, path)  # type: ignore[no-untyped-call]
    else:
        recorded = REGISTRY
    read = CollectorRegistry(auto_describe=False)
    read.register(_Families(extra))
    return generate_latest(recorded) + generate_latest(read)


def process_dead(pid: int) -> None:
    """Forget a dead child's live gauges (the supervisor calls it)."""
    path = multiprocess_dir()
    if path is not None:
        multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
