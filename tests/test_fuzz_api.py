"""The API fuzzer (tests/fuzz_runner.py) over every operation of the OpenAPI document: no 5xx,
no status or body outside the document, every error in the JSON error shape.

The fuzzer and the server it drives run in a network namespace with only loopback
(``unshare --net``), so that no URL it makes up can reach anything off the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from loopwright.server.app import create_app
from loopwright.settings import Settings
from tests.fuzz_server import PLANTED_PATH

ROOT = Path(__file__).parent.parent
EXAMPLES = 25
BUDGET_S = 45.0
HARD_TIMEOUT_S = 240  # startup and seeding come on top of the budget


def run_fuzzer(report: Path, *args: str) -> dict[str, Any]:
    command = ["unshare", "--net", "--map-root-user", sys.executable, "-m", "tests.fuzz_runner"]
    command += ["--report", str(report), *args]
    pythonpath = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    env = {**os.environ, "PYTHONPATH": pythonpath}
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=HARD_TIMEOUT_S)
    found: dict[str, Any] = json.loads(report.read_text())
    return found


def test_every_operation_answers_as_documented(tmp_path: Path) -> None:
    report = run_fuzzer(
        tmp_path / "report.json", "--examples", str(EXAMPLES), "--budget-s", str(BUDGET_S)
    )
    replay = f"replay with --seed {report['seed']}"
    assert report["failures"] == [], f"{replay}: {json.dumps(report['failures'], indent=2)}"
    document = create_app(Settings(data_dir=tmp_path / "doc")).openapi()
    documented = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert set(report["operations"]) == documented  # every operation, as it lands
    assert all(sum(statuses.values()) > 0 for statuses in report["statuses"].values())
    answered = {int(s) for statuses in report["statuses"].values() for s in statuses}
    assert {200, 201, 204, 400, 401, 404, 409, 422} <= answered  # deep enough to matter
    print(f"fuzzed {report['cases']} cases in {report['seconds']} s (seed {report['seed']})")


def test_the_fuzzer_finds_a_planted_500(tmp_path: Path) -> None:
    report = run_fuzzer(tmp_path / "report.json", "--plant-500", "--only", "planted")
    label = f"POST {PLANTED_PATH}"
    assert report["operations"] == [label]
    found = {(f["operation"], f["status"]) for f in report["failures"]}
    assert found == {(label, 500)}, report["failures"]
