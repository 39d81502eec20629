"""The baseline: a minimal FastAPI app returning a constant JSON body."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()
BODY = {"id": "agt_0", "name": "constant", "model": "offline:default", "max_steps": 15}


@app.get("/agent")
async def agent() -> dict[str, object]:
    return BODY


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
