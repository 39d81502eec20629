"""CPU per turn of the instrumentation alone: the metric and span calls one turn makes, timed in
this process with ``time.process_time`` (every thread: the span exporter's too), so the figure
holds on a loaded machine where a whole server's turn time does not.

A turn (as ``bench.turn_overhead`` drives it: a message, two model requests, one tool call)
makes: 6 event-log appends, a run start and end, two model requests with their tokens, one tool
call; with tracing, a server span for the message's request, the run's ids at submit, the run's
root span, two ``chat`` spans and one ``execute_tool`` span, exported by the batch processor to
a local OTLP sink over HTTP/protobuf.

    .venv/bin/python -m bench.observability_cost [--turns 5000]

Modes, each in a fresh process: ``off`` (metrics not recorded), ``metrics`` (one process:
the default registry), ``metrics-multiprocess`` (``--processes N``: values in memory-mapped
files), ``metrics+tracing`` (with the sink).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from pydantic_ai.messages import ModelResponse, TextPart
from pydantic_ai.usage import RequestUsage

from bench.harness import free_port, process

APPENDS_PER_TURN = 6


def one_turn(store: str, agent: str, tracing_on: bool) -> None:
    from loopwright.runtime.observed import answered
    from loopwright.telemetry import metrics, tracing

    opened = (
        tracing.server_span("POST", "/v1/stores/s/sessions/x/messages", {}) if tracing_on else None
    )
    stored = tracing.new_run_trace()
    for _ in range(APPENDS_PER_TURN):
        metrics.observe_append(0.0005)
    metrics.run_started(store, 0.002)
    now = datetime.now(UTC)
    with tracing.run_span(
        stored,
        agent=agent,
        store_id=store,
        run_id="run_x",
        session_id="ses_x",
        model="fake:bench",
        started_at=now,
        resumed=False,
    ) as span:
        for index in range(2):
            with tracing.model_span("fake", "fake:bench", "bench", index) as chat:
                response = ModelResponse(
                    parts=[TextPart("ok")],
                    usage=RequestUsage(input_tokens=120, output_tokens=20),
                    model_name="bench",
                    provider_name="openai",
                    finish_reason="stop",
                )
                answered(store, "fake:bench", response, 0.004, chat)
            if index == 0:
                with tracing.tool_span("list_projects", "call_1", "builtin"):
                    metrics.tool_call(store, "list_projects", "ok", 0.001)
        tracing.end_run(span, "completed", "final_answer")
    metrics.run_finished(store, agent, "completed", now - timedelta(seconds=0.02), now)
    if opened is not None:
        tracing.end_server_span(opened, "POST", 202, "/v1/stores/{store_id}/sessions/{id}/messages")


def measure(mode: str, turns: int, sink: str | None) -> float:
    """CPU milliseconds per turn in this process (run in a child by ``main``)."""
    from loopwright.telemetry import metrics, tracing

    metrics.record(mode != "off")
    if mode.endswith("tracing"):
        assert sink is not None
        tracing.setup(sink)
    stores = [f"bench-{i}" for i in range(20)]
    for i in range(200):  # warm: label children exist, as in a server that has run a while
        one_turn(stores[i % 20], "agt_1", tracing.enabled())
    started = time.process_time()
    for i in range(turns):
        one_turn(stores[i % 20], "agt_1", tracing.enabled())
    tracing.shutdown()  # the exporter's work for these spans is counted
    return (time.process_time() - started) * 1000 / turns


def main(turns: int, rounds: int) -> None:
    sink_port = free_port()
    sink = f"http://127.0.0.1:{sink_port}"
    uvicorn = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--port"]
    modes = ["off", "metrics", "metrics-multiprocess", "metrics+tracing"]
    found: dict[str, list[float]] = {mode: [] for mode in modes}
    with process([*uvicorn, str(sink_port), "bench.otlp_sink:app"], f"{sink}/health"):
        for _ in range(rounds):
            for mode in modes:
                env = dict(os.environ)
                with tempfile.TemporaryDirectory() as directory:
                    if mode == "metrics-multiprocess":
                        env["PROMETHEUS_MULTIPROC_DIR"] = directory
                    out = subprocess.run(
                        [
                            sys.executable,
                            "-m",
                            "bench.observability_cost",
                            "--child",
                            mode,
                            "--turns",
                            str(turns),
                            "--sink",
                            f"{sink}/v1/traces",
                        ],
                        env=env,
                        check=True,
                        capture_output=True,
                        text=True,
                    ).stdout
                found[mode].append(json.loads(out.strip().splitlines()[-1])["ms_per_turn"])
                print(f"{mode:>22}: {found[mode][-1] * 1000:.0f} us CPU per turn", flush=True)
    median = {mode: sorted(values)[len(values) // 2] for mode, values in found.items()}
    print("median CPU per turn of the instrumentation (the calls alone):")
    for mode, value in median.items():
        print(f"  {mode:>22}: {value * 1000:.0f} us")
    print(
        f"metrics cost: {(median['metrics'] - median['off']) * 1000:.0f} us per turn"
        f" ({(median['metrics-multiprocess'] - median['off']) * 1000:.0f} us multiprocess)"
    )
    print(f"tracing cost: {(median['metrics+tracing'] - median['metrics']) * 1000:.0f} us per turn")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--sink", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps({"ms_per_turn": measure(args.child, args.turns, args.sink)}))
    else:
        main(args.turns, args.rounds)
