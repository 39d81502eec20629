"""The API fuzzer: Schemathesis over every operation of ``/openapi.json``, against a real server.

It runs inside a network namespace that has only loopback, with the server it starts, so no URL
the fuzzer makes up (HTTP tools, MCP servers, provider base URLs) can send traffic off the
machine; it refuses to run anywhere else. tests/test_fuzz_api.py starts it:

    unshare --net --map-root-user python -m tests.fuzz_runner --report out.json

Each operation gets positive and negative cases (valid and invalid by the document), with its
path ids pinned to resources that exist or left to the generator, sent with a real admin key of
a fresh store; every response goes through ``fuzz_checks.CHECKS``. Each path is also sent a
method it does not document: 405 with every documented method in ``Allow``. The JSON report:
``{operations, cases, statuses: {operation: {status: count}}, failures: [{operation, check,
status, message}], seed, seconds}``; the server's output goes beside it (``.server.log``). An
operation that answers the store's admin key 403 and never 2xx (the operator's) is fuzzed again
with the operator key.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok

from tests.fuzz_checks import CHECKS, error_problem
from tests.procs import OPERATOR_KEY, free_port

READY_TIMEOUT_S = 60
REQUEST_TIMEOUT_S = 30
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MIN_CASES = 10
"""Sent to every operation whatever the time budget says (on a loaded machine, the budget
runs out early: this many still finds what the run must find)."""
PARAM = re.compile(r"{(\w+)}")


def require_isolation() -> None:
    """Bring loopback up, and refuse to fuzz if any other network interface exists."""
    names = sorted(name for _, name in socket.if_nameindex())
    if names != ["lo"]:
        raise SystemExit(f"refusing to fuzz: interfaces besides loopback: {names}")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


@contextmanager
def server(data_dir: Path, log: Path, plant_500: bool) -> Iterator[str]:
    """The server, its output in ``log`` (the tracebacks of the 500s it answers, among it)."""
    port = free_port()
    command = [sys.executable, "-m", "tests.fuzz_server", "--port", str(port)]
    command += ["--data-dir", str(data_dir), *(["--plant-500"] if plant_500 else [])]
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited with {proc.returncode}; see {log}")
            try:
                if httpx.get(f"{base_url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)  # readiness poll of a starting process
        yield base_url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _created(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 201:
        raise SystemExit(f"seeding failed: {response.request.url} {response.text}")
    found: dict[str, Any] = response.json()
    return found


def seed_store(base_url: str) -> tuple[str, str, dict[str, str]]:
    """A fresh store with one of everything; its admin and readonly keys, and ids for the paths'
    parameters."""
    store_id = f"fuzz-{random.randrange(16**8):08x}"
    operator = httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {OPERATOR_KEY}"}, timeout=30
    )
    with operator:
        _created(operator.post("/v1/stores", json={"id": store_id}))
        key = _created(operator.post(f"/v1/stores/{store_id}/keys", json={"role": "admin"}))
        reader = _created(operator.post(f"/v1/stores/{store_id}/keys", json={"role": "readonly"}))
    admin = httpx.Client(
        base_url=f"{base_url}/v1/stores/{store_id}",
        headers={"Authorization": f"Bearer {key['key']}"},
        timeout=30,
    )
    with admin:
        agent = _created(admin.post("/agents", json={"name": "fuzzed"}))
        session = _created(admin.post("/sessions", json={"agent_id": agent["id"]}))
        sent = admin.post(f"/sessions/{session['id']}/messages", json={"content": "list tasks"})
        if sent.status_code != 202:
            raise SystemExit(f"seeding failed: {sent.text}")
        project = _created(admin.post("/projects", json={"name": "fuzzed"}))
        task = _created(admin.post("/tasks", json={"title": "t", "project_id": project["id"]}))
        document = _created(admin.post("/documents", json={"title": "d"}))
        # In SEEDED_NETWORK: the namespace has no route to it, so nothing is ever sent.
        tool = {"type": "object", "properties": {}}
        http_tool = _created(
            admin.post(
                "/tools",
                json={
                    "name": "fuzzed",
                    "description": "d",
                    "url": "http://192.0.2.1/x",
                    "method": "GET",
                    "parameters": tool,
                },
            )
        )
        mcp = _created(
            admin.post(
                "/mcp-servers",
                json={"name": "fuzzed", "transport": "streamable_http", "url": "http://192.0.2.1/"},
            )
        )
        provider = _created(
            admin.post("/providers", json={"name": "fuzzed", "kind": "openai", "api_key": "k"})
        )
        spare = _created(admin.post("/keys", json={"role": "readonly", "name": "spare"}))
    pins = {
        "store_id": store_id,
        "agent_id": agent["id"],
        "session_id": session["id"],
        "run_id": sent.json()["run"]["id"],
        "project_id": project["id"],
        "task_id": task["id"],
        "document_id": document["id"],
        "name": http_tool["name"],
        "server_id": mcp["id"],
        "provider_id": provider["id"],
        "key_id": spare["id"],
    }
    return str(key["key"]), str(reader["key"]), pins


def _failure(operation: str, check: str, status: int | None, message: str) -> dict[str, Any]:
    return {"operation": operation, "check": check, "status": status, "message": message[:2000]}


def fuzz_operation(
    operation: Any, base_url: str, headers: dict[str, str], pins: dict[str, str], **run: Any
) -> tuple[Counter[int], list[dict[str, Any]]]:
    """Send up to ``run["examples"]`` cases to one operation, none after ``run["until"]`` (a
    ``time.monotonic()``) once ``MIN_CASES`` were sent; the statuses answered, what failed."""
    label = operation.label
    names = PARAM.findall(operation.path)
    pinned = {name: pins[name] for name in names if name in pins}
    own_store = {name: pins[name] for name in names if name == "store_id"}
    strategies = [
        operation.as_strategy(generation_mode=mode, path_parameters=path)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for path in (pinned, own_store)
    ]
    failures: dict[tuple[str, int | None], dict[str, Any]] = {}
    statuses: Counter[int] = Counter()
    sent = [0]

    @settings(
        max_examples=run["examples"],
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @hypothesis_seed(run["seed"])
    @given(case=st.one_of(strategies))
    def send(case: Case[Any]) -> None:
        if sent[0] >= MIN_CASES and time.monotonic() > run["until"]:
            return  # over this operation's share of the time budget
        sent[0] += 1
        try:
            response = case.call(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_S)
        except Exception as exc:  # the server hung up or did not answer: a finding
            key: tuple[str, int | None] = ("transport", None)
            failures.setdefault(key, _failure(label, "transport", None, repr(exc)))
            return
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                key = (failure.title, response.status_code)
                message = f"{failure.title}: {failure.message}\n{case.as_curl_command(headers)}"
                failures.setdefault(
                    key, _failure(label, failure.title, response.status_code, message)
                )

    send()
    return statuses, list(failures.values())


def walk_methods(
    document: dict[str, Any], base_url: str, key: str, pins: dict[str, str]
) -> list[dict[str, Any]]:
    """Each path, sent a method it does not document: 405, and ``Allow`` names every one."""
    failures = []
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        for path, operations in document["paths"].items():
            documented = {method.upper() for method in operations}
            missing = [method for method in METHODS if method not in documented]
            if not missing:
                continue
            url = base_url + PARAM.sub(lambda m: pins.get(m.group(1), "x"), path)
            response = client.request(missing[0], url)
            allowed = documented
            got = {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}
            label = f"{missing[0]} {path}"
            if response.status_code != 405 or got != allowed:
                message = (
                    f"expected 405 with Allow {sorted(allowed)}, "
                    f"got {response.status_code} with {sorted(got)}"
                )
                failures.append(
                    _failure(label, "method_not_allowed", response.status_code, message)
                )
            elif (problem := error_problem(response.status_code, response.text)) is not None:
                failures.append(_failure(label, "error_shape", response.status_code, problem))
    return failures


def fuzz(
    base_url: str, examples: int, budget_s: float, seed: int, only: str | None
) -> dict[str, Any]:
    started = time.monotonic()
    key, reader, pins = seed_store(base_url)
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise SystemExit(
                f"the document has an operation Schemathesis cannot read: {result.err()}"
            )
        operations.append(result.ok())
    if only is not None:
        operations = [op for op in operations if only in op.path]
    # Deletions last, so that the other operations still find the pinned resources.
    operations.sort(key=lambda op: (op.method.upper() == "DELETE", op.path, op.method))
    operator = {**headers, "Authorization": f"Bearer {OPERATOR_KEY}"}
    readonly = {**headers, "Authorization": f"Bearer {reader}"}
    failures: list[dict[str, Any]] = []
    statuses: dict[str, dict[int, int]] = {}
    for done, operation in enumerate(operations, start=1):
        until = started + budget_s * done / len(operations)
        run = {"examples": examples, "seed": seed, "until": until}
        answered, found = fuzz_operation(operation, base_url, headers, pins, **run)
        if 403 in answered and not any(200 <= status < 300 for status in answered):
            # An operation of the operator's: fuzz it with that key.
            answered, found = fuzz_operation(operation, base_url, operator, pins, **run)
        failures += found
        # A few with the lowest role: a 403 the document does not list is a finding too.
        few = {**run, "examples": 2}
        as_reader, found = fuzz_operation(operation, base_url, readonly, pins, **few)
        statuses[operation.label] = dict(sorted((answered + as_reader).items()))
        failures += found
    if only is None:
        failures += walk_methods(schema.raw_schema, base_url, key, pins)
    return {
        "operations": [op.label for op in operations],
        "cases": sum(sum(answered.values()) for answered in statuses.values()),
        "statuses": statuses,
        "failures": failures,
        "seed": seed,
        "seconds": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--examples", type=int, default=12, help="cases per operation")
    parser.add_argument("--budget-s", type=float, default=60, help="time for all operations")
    parser.add_argument("--seed", type=int, default=None, help="to replay a run")
    parser.add_argument("--only", default=None, help="only operations whose path contains this")
    parser.add_argument("--plant-500", action="store_true")
    args = parser.parse_args()
    require_isolation()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    log = args.report.with_suffix(".server.log")
    with (
        tempfile.TemporaryDirectory() as data_dir,
        server(Path(data_dir), log, args.plant_500) as url,
    ):
        report = fuzz(url, args.examples, args.budget_s, seed, args.only)
    args.report.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
