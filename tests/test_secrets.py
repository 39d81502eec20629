"""Secrets at rest: rotation re-encrypts under the newest key; a wrong key fails at start-up."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.procs import OPERATOR_KEY, ServerProcess


async def cli(data_dir: Path, keys: str, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "loopwright",
        *args,
        "--data-dir",
        str(data_dir),
        env={**os.environ, "LOOPWRIGHT_SECRET_KEYS": keys},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


def stored(data_dir: Path) -> str:
    with sqlite3.connect(data_dir / "loopwright.db") as conn:
        return str(conn.execute("SELECT api_key_enc FROM providers").fetchone()[0])


@pytest.mark.parametrize("wrong", [False, True])
async def test_rotate_then_start_with_new_key_only_and_wrong_key_fails(
    tmp_path: Path, wrong: bool
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    server = ServerProcess(tmp_path, {"LOOPWRIGHT_SECRET_KEYS": old})
    await server.start()
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=operator) as op:
        assert (await op.post("/v1/stores", json={"id": "keys"})).status_code == 201
        r = await op.post(
            "/v1/stores/keys/providers",
            json={"name": "p", "kind": "openai", "api_key": "sk-rotate-me"},
        )
        assert r.status_code == 201, r.text
        # This server has no LOOPWRIGHT_EGRESS_ALLOW: loopback targets are refused by default.
        r = await op.post(
            "/v1/stores/keys/providers",
            json={"name": "local", "kind": "openai", "base_url": "http://127.0.0.1:9/v1"},
        )
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "egress_denied"
    await server.stop()
    before = stored(tmp_path)
    assert Fernet(old.encode()).decrypt(before.encode()) == b"sk-rotate-me"

    if wrong:
        other = Fernet.generate_key().decode()
        code, out = await cli(tmp_path, other, "serve", "--port", "0")
        assert code != 0
        assert "cannot be decrypted" in out
        return
    code, out = await cli(tmp_path, f"{new},{old}", "secrets", "rotate")
    assert code == 0, out
    assert "re-encrypted 1 secrets" in out
    after = stored(tmp_path)
    assert after != before
    assert Fernet(new.encode()).decrypt(after.encode()) == b"sk-rotate-me"
    restarted = ServerProcess(tmp_path, {"LOOPWRIGHT_SECRET_KEYS": new})
    await restarted.start()  # the old key is gone and every secret still decrypts
    await restarted.stop()
