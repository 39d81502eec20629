"""The web console: ``/`` and its client-side routes answer ``index.html``; ``/ui/...`` serves the
static assets with ETags; ``/docs`` is Swagger UI from vendored files (works offline).

Every answer here carries a strict Content-Security-Policy: scripts, styles, images and
connections come from this origin only, no inline scripts or styles, no frames."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response

from loopwright.errors import NotFound
from loopwright.ui import STATIC_DIR

router = APIRouter(include_in_schema=False)

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

SECTIONS = (
    "agents",
    "chat",
    "runs",
    "memories",
    "workspace",
    "schedules",
    "webhooks",
    "approvals",
    "tools",
    "dashboard",
    "settings",
    "operator",
    "signin",
)
"""Top-level paths the client-side router owns: each (and anything below it) answers the
single page, so a bookmarked or reloaded URL opens the same view."""

_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True, slots=True)
class Asset:
    mtime_ns: int
    etag: str
    body: bytes
    media_type: str


_cache: dict[Path, Asset] = {}


def _asset(path: Path) -> Asset:
    """The file's bytes and ETag, read once and again only when the file changes."""
    stat = path.stat()
    cached = _cache.get(path)
    if cached is not None and cached.mtime_ns == stat.st_mtime_ns:
        return cached
    body = path.read_bytes()
    media_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    asset = Asset(
        mtime_ns=stat.st_mtime_ns,
        etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
        body=body,
        media_type=media_type or "application/octet-stream",
    )
    _cache[path] = asset
    return asset


def _resolve(relative: str) -> Path:
    root = STATIC_DIR.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFound(f"no such asset: {relative}")
    return path


def _serve(request: Request, path: Path) -> Response:
    asset = _asset(path)
    headers = {**SECURITY_HEADERS, "ETag": asset.etag, "Cache-Control": "no-cache"}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get("/ui/{relative:path}")
async def static_asset(relative: str, request: Request) -> Response:
    return _serve(request, _resolve(relative))


async def page(request: Request) -> Response:
    return _serve(request, _resolve("index.html"))


async def docs(request: Request) -> Response:
    return _serve(request, _resolve("docs.html"))


router.add_api_route("/", page, methods=["GET", "HEAD"])
for _section in SECTIONS:
    router.add_api_route(f"/{_section}", page, methods=["GET", "HEAD"])
    router.add_api_route(f"/{_section}/{{rest:path}}", page, methods=["GET", "HEAD"])
router.add_api_route("/docs", docs, methods=["GET", "HEAD"])
