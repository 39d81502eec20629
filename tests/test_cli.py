"""The CLI manages stores and keys, also while the server runs on the same data directory."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import Live


async def cli(live: Live, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "loopwright",
        *args,
        "--data-dir",
        str(live.settings.data_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_store_and_key_created_by_cli_work_on_running_server(live: Live) -> None:
    store_id = f"cli-{uuid.uuid4().hex[:8]}"
    code, out, err = await cli(live, "store", "create", store_id, "--json")
    assert code == 0, err
    created = json.loads(out)
    assert created["store_id"] == store_id
    async with live.client(created["admin_key"]) as admin:
        r = await admin.get(f"/v1/stores/{store_id}")
        assert r.status_code == 200
    code, out, err = await cli(
        live, "key", "create", "--store", store_id, "--role", "readonly", "--json"
    )
    assert code == 0, err
    async with live.client(json.loads(out)["key"]) as readonly:
        assert (await readonly.get(f"/v1/stores/{store_id}/agents")).status_code == 200
        r = await readonly.post(f"/v1/stores/{store_id}/agents", json={"name": "x"})
        assert r.status_code == 403


async def test_cli_refuses_bad_input_clearly(live: Live) -> None:
    code, _, err = await cli(live, "store", "create", "Bad Slug")
    assert code == 2 and "store id" in err
    code, _, err = await cli(live, "key", "create", "--store", "nowhere-x", "--role", "member")
    assert code == 1 and "not found" in err
    code, _, err = await cli(live, "key", "create", "--store", "nowhere-x", "--role", "god")
    assert code == 2 and "role" in err
    store_id = f"cli-{uuid.uuid4().hex[:8]}"
    assert (await cli(live, "store", "create", store_id))[0] == 0
    code, _, err = await cli(live, "store", "create", store_id)
    assert code == 1 and "already exists" in err


def test_first_start_prints_the_key_and_later_starts_say_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from loopwright.cli import _create_demo, load_settings

    settings = load_settings(tmp_path / "data", None)
    _create_demo(settings)
    first = capsys.readouterr().out
    assert "admin key: lw_" in first
    assert "paste the key" in first
    _create_demo(settings)
    later = capsys.readouterr().out
    assert "lw_" not in later
    assert (
        f"loopwright key create --store demo --role admin --data-dir {settings.data_dir}" in later
    )


async def test_agent_list_on_the_data_directory_says_when_a_store_has_none(live: Live) -> None:
    store_id = f"cli-{uuid.uuid4().hex[:8]}"
    assert (await cli(live, "store", "create", store_id))[0] == 0
    code, out, _ = await cli(live, "agent", "list", "--store", store_id)
    assert (code, out.strip()) == (0, f"No agents in store {store_id}.")
    code, out, _ = await cli(live, "agent", "list", "--store", store_id, "--json")
    assert (code, json.loads(out)) == (0, [])
