"""The server the fuzzer drives: the real app under uvicorn on loopback, over a fresh store.

``--plant-500`` adds one operation that answers 500 for some inputs, to show that the fuzzer
notices (tests/test_fuzz_api.py); nothing else differs from the app ``loopwright serve`` runs.

    python -m tests.fuzz_server --port 8123 --data-dir /tmp/x [--plant-500]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from loopwright.server.app import create_app
from loopwright.server.auth import Admin
from loopwright.settings import Settings
from tests.procs import OPERATOR_KEY

PLANTED_PATH = "/v1/stores/{store_id}/planted"
SEEDED_NETWORK = "192.0.2.0/24"
"""TEST-NET-1 (documentation only, never routed): the URL of the seeded HTTP tool and MCP server,
allowed past the egress guard so that calls to them are made (and fail: there is no route)."""


class Planted(BaseModel):
    n: int


def plant_500(app: FastAPI) -> None:
    """A route with a bug: an ``n`` outside 0..100 (most integers) raises: a 500."""

    @app.post(PLANTED_PATH)
    async def planted(body: Planted, access: Admin) -> Planted:
        if not 0 <= body.n <= 100:
            raise RuntimeError("planted bug")
        return body


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--plant-500", action="store_true")
    args = parser.parse_args()
    settings = Settings(
        data_dir=args.data_dir,
        operator_key=OPERATOR_KEY,
        create_demo=False,
        egress_allow=SEEDED_NETWORK,
    )
    app = create_app(settings)
    if args.plant_500:
        plant_500(app)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
