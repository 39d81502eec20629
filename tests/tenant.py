"""A store on a server process, with an agent on a fake model: for tests that drive server
processes of their own over HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.procs import OPERATOR_KEY


@dataclass
class Tenant:
    """A store on a server, with an agent on the fake model."""

    http: httpx.AsyncClient
    agent_id: str

    @classmethod
    async def create(cls, base_url: str, model_url: str) -> Tenant:
        store = f"st-{uuid.uuid4().hex[:10]}"
        operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
        async with httpx.AsyncClient(base_url=base_url, headers=operator) as op:
            assert (await op.post("/v1/stores", json={"id": store})).status_code == 201
            key = (await op.post(f"/v1/stores/{store}/keys", json={"role": "admin"})).json()
        http = httpx.AsyncClient(
            base_url=f"{base_url}/v1/stores/{store}",
            headers={"Authorization": f"Bearer {key['key']}"},
            timeout=30,
        )
        provider = {"name": "fake", "kind": "openai", "base_url": f"{model_url}/v1"}
        assert (await http.post("/providers", json={**provider, "api_key": "k"})).is_success
        agent = (await http.post("/agents", json={"name": "a", "model": "fake:m"})).json()
        return cls(http, agent["id"])

    def on(self, base_url: str) -> Tenant:
        """The same store, through another server process."""
        http = httpx.AsyncClient(
            base_url=base_url + self.http.base_url.path, headers=self.http.headers, timeout=30
        )
        return Tenant(http, self.agent_id)

    async def send(self, content: str, priority: str = "normal") -> str:
        """A message in a new session; the id of its run."""
        chat = (await self.http.post("/sessions", json={"agent_id": self.agent_id})).json()
        r = await self.http.post(
            f"/sessions/{chat['id']}/messages", json={"content": content, "priority": priority}
        )
        assert r.status_code == 202, r.text
        return str(r.json()["run"]["id"])

    async def wait(self, run_id: str, timeout_s: float = 30) -> dict[str, Any]:
        r = await self.http.post(f"/runs/{run_id}/wait", params={"timeout_s": timeout_s})
        return dict(r.json())
