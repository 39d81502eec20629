"""Per request: an id (``X-Request-ID``, the caller's if it sent a sane one) and the store the
path names, for every log line the request causes (``telemetry.context``); and, with tracing
on, the request's server span. A plain ASGI middleware: a few context-variable sets per
request, nothing per streamed frame."""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopwright.telemetry import context, tracing

_STORE_PATH = re.compile(r"^/v1/stores/([^/]+)")
_SANE_ID = re.compile(r"^[\w.:-]{1,64}$")


class Observe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and _SANE_ID.match(given) else secrets.token_hex(8)
        context.request_id.set(request_id)
        path: str = scope.get("path", "")
        found = _STORE_PATH.match(path)
        context.store_id.set(found.group(1) if found else None)
        opened = None
        method: str = scope.get("method", "GET")
        if tracing.enabled():
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            opened = tracing.server_span(method, path, headers)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if opened is not None:
                route = scope.get("route")
                template = getattr(route, "path", None)
                tracing.end_server_span(opened, method, status, template)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None
