"""The API fuzzer (tests/fuzz_runner.py) over every operation of the OpenAPI document: no 5xx,
no status or body outside the document, every error in the JSON error shape.

The fuzzer and the server it drives run in a network namespace with only loopback
(``unshare --net``), so that no URL it makes up can reach anything off the machine. The server
has one planted bug (``fuzz_server.plant_500``), in the same run, to show that the run can fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loopwright.server.app import create_app
from loopwright.settings import Settings
from tests.fuzz_server import PLANTED_PATH

ROOT = Path(__file__).parent.parent
EXAMPLES = 25
BUDGET_S = 45.0
HARD_TIMEOUT_S = 240  # startup and seeding come on top of the budget
PLANTED = f"POST {PLANTED_PATH}"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("fuzz") / "report.json"
    command = ["unshare", "--net", "--map-root-user", sys.executable, "-m", "tests.fuzz_runner"]
    command += ["--report", str(path), "--examples", str(EXAMPLES), "--budget-s", str(BUDGET_S)]
    command += ["--plant-500"]
    pythonpath = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    env = {**os.environ, "PYTHONPATH": pythonpath}
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=HARD_TIMEOUT_S)
    found: dict[str, Any] = json.loads(path.read_text())
    found["server_log"] = str(path.with_suffix(".server.log"))
    print(f"fuzzed {found['cases']} cases in {found['seconds']} s (seed {found['seed']})")
    return found


def test_every_operation_answers_as_documented(report: dict[str, Any], tmp_path: Path) -> None:
    failures = [f for f in report["failures"] if f["operation"] != PLANTED]
    replay = f"replay with --seed {report['seed']}; the server's log: {report['server_log']}"
    assert failures == [], f"{replay}: {json.dumps(failures, indent=2)}"
    document = create_app(Settings(data_dir=tmp_path)).openapi()
    documented = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert set(report["operations"]) == documented | {PLANTED}  # every operation, as it lands
    assert all(sum(statuses.values()) > 0 for statuses in report["statuses"].values())
    answered = {int(s) for statuses in report["statuses"].values() for s in statuses}
    assert {200, 201, 204, 400, 404, 422} <= answered  # deep enough to matter


def test_the_fuzzer_finds_the_planted_500(report: dict[str, Any]) -> None:
    planted = {f["status"] for f in report["failures"] if f["operation"] == PLANTED}
    assert planted == {500}, report["failures"]
