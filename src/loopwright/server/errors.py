"""Every error leaves the server as ``{"error": {"code", "message", "details"}}``.

This is the one place where exceptions become HTTP statuses.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from loopwright.errors import LoopwrightError, RateLimited

log = logging.getLogger("loopwright.server")

ERROR_CODES: dict[int, tuple[str, ...]] = {
    400: ("bad_request", "malformed_json"),
    401: ("unauthenticated",),
    403: ("forbidden",),
    404: ("not_found",),
    405: ("method_not_allowed",),
    409: ("conflict",),
    413: ("payload_too_large",),
    415: ("unsupported_media_type",),
    422: ("validation_error", "egress_denied"),
    429: ("rate_limited",),
    500: ("internal_error", "secret_key_mismatch"),
    502: ("provider_error", "mcp_error"),
    503: ("unavailable", "circuit_open"),
}
"""Every error code the server can answer with, by HTTP status: the one list that the OpenAPI
document (``ErrorBody``) and the error table of docs/api.md are checked against."""

_STATUS_CODES = {status: codes[0] for status, codes in ERROR_CODES.items()}
PROBED_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


async def _loopwright_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LoopwrightError)
    headers = None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
    return error_response(exc.status, exc.code, exc.message, exc.details, headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {
            "loc": list(err.get("loc", ())),
            "type": err.get("type"),
            "message": err.get("msg"),
        }
        for err in exc.errors()
    ]
    if any(p["type"] == "json_invalid" for p in problems):
        return error_response(400, "malformed_json", "request body is not valid JSON", problems)
    return error_response(422, "validation_error", "request failed validation", problems)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return error_response(exc.status_code, code, str(exc.detail), None, headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on the request's path. (Starlette's own 405 names only
    the methods of the first route whose path matched.) Asked of each route through its public
    ``matches``, so routers included in routers are covered."""
    allowed = [
        method
        for method in PROBED_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]
    return allowed


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal server error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(LoopwrightError, _loopwright_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
