"""What the server does for the web UI: /v1/me, the pages and assets (CSP, ETags), /docs
without a CDN, and the newest-first message page."""

from __future__ import annotations

import re

import httpx

from loopwright.ui import STATIC_DIR
from tests.conftest import Live, Store


async def test_me_names_the_store_and_role_of_the_key(live: Live, store: Store) -> None:
    assert (await live.http.get("/v1/me")).json() == {
        "store_id": None,
        "role": "operator",
        "key_id": None,
        "name": None,
    }
    me = (await store.admin.get("/v1/me")).json()
    assert (me["store_id"], me["role"]) == (store.id, "admin")
    r = await store.admin.post(f"{store.path}/keys", json={"role": "readonly", "name": "wall"})
    async with live.client(r.json()["key"]) as reader:
        assert (await reader.get("/v1/me")).json() == {
            "store_id": store.id,
            "role": "readonly",
            "key_id": r.json()["id"],
            "name": "wall",
        }
    async with live.client(None) as anonymous:
        r = await anonymous.get("/v1/me")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthenticated"
    async with live.client("lw_unknown") as unknown:
        assert (await unknown.get("/v1/me")).status_code == 401


async def test_pages_answer_the_single_page_with_a_strict_csp(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as http:
        index = await http.get("/")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        csp = index.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert index.headers["x-content-type-options"] == "nosniff"
        for path in ("/agents", "/agents/agt_1/edit", "/chat/ses_x", "/runs/run_1", "/settings"):
            r = await http.get(path)
            assert r.status_code == 200, path
            assert r.content == index.content
        # no inline script or style in the page itself
        assert not re.search(rb"<script(?![^>]*\bsrc=)", index.content)
        assert b"<style" not in index.content and b"style=" not in index.content
        # API paths keep their JSON errors
        r = await http.get("/v1/nothing-here")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"
        assert (await http.get("/agentsx")).status_code == 404


async def test_assets_carry_an_etag_and_answer_304_while_unchanged(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as http:
        r = await http.get("/ui/app.js")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/javascript")
        assert r.content == (STATIC_DIR / "app.js").read_bytes()
        etag = r.headers["etag"]
        assert r.headers["cache-control"] == "no-cache"
        again = await http.get("/ui/app.js", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        other = await http.get("/ui/app.css")
        assert other.headers["etag"] != etag
        for bad in ("/ui/../settings.py", "/ui/%2e%2e/%2e%2e/settings.py", "/ui/missing.js"):
            r = await http.get(bad)
            assert r.status_code == 404, bad
            assert r.json()["error"]["code"] == "not_found"


async def test_docs_load_swagger_from_this_server_only(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as http:
        page = await http.get("/docs")
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        html = page.text
        assert "http://" not in html and "https://" not in html
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert "/ui/vendor/swagger-ui/swagger-ui-bundle.js" in sources
        for source in sources:
            assert (await http.get(source)).status_code == 200, source
        assert (await http.get("/openapi.json")).json()["paths"]["/v1/me"]
        assert (await http.get("/redoc")).status_code == 404


async def test_messages_page_newest_first(store: Store) -> None:
    agent = (await store.admin.post(f"{store.path}/agents", json={"name": "pager"})).json()
    session = (
        await store.admin.post(f"{store.path}/sessions", json={"agent_id": agent["id"]})
    ).json()
    base = f"{store.path}/sessions/{session['id']}/messages"
    for text in ("one", "two"):
        r = await store.admin.post(base, json={"content": text, "wait": True})
        assert r.status_code == 200, r.text
    oldest = (await store.admin.get(base)).json()["items"]
    newest = (await store.admin.get(base, params={"order": "newest", "limit": 3})).json()
    assert [m["id"] for m in newest["items"]] == [m["id"] for m in reversed(oldest)][:3]
    rest = (
        await store.admin.get(
            base, params={"order": "newest", "limit": 3, "cursor": newest["next_cursor"]}
        )
    ).json()
    assert [m["id"] for m in newest["items"] + rest["items"]] == [m["id"] for m in reversed(oldest)]
    assert rest["next_cursor"] is None
    r = await store.admin.get(base, params={"order": "sideways"})
    assert r.status_code == 422
