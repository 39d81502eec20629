"""The client's one exception tree: every failure a caller can meet, with the server's error.

ClientError
├── TransportFailed          the server could not be reached, or the connection broke
└── ApiError                 the server answered with ``{"error": {code, message, details}}``
    ├── BadRequest           400 (malformed_json, bad_request)
    ├── Unauthenticated      401
    │   └── StreamClosed     an open event stream ended because its key was deleted
    ├── Forbidden            403
    ├── NotFound             404
    ├── MethodNotAllowed     405
    ├── Conflict             409
    ├── PayloadTooLarge      413
    ├── UnsupportedMediaType 415
    ├── ValidationFailed     422 (validation_error, egress_denied)
    ├── RateLimited          429 (``retry_after`` in seconds, when the server said)
    └── ServerError          5xx
"""

from __future__ import annotations

import json
from typing import Any, Final

import httpx


class ClientError(Exception):
    """Base of every error the client raises."""


class TransportFailed(ClientError):
    """The server could not be reached, or the connection broke (after any retries)."""


class ApiError(ClientError):
    """An error answer of the server: its HTTP status and the JSON error's fields."""

    status: int

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class BadRequest(ApiError): ...


class Unauthenticated(ApiError): ...


class StreamClosed(Unauthenticated):
    """The server ended an event stream with ``stream.closed`` (its key was deleted)."""


class Forbidden(ApiError): ...


class NotFound(ApiError): ...


class MethodNotAllowed(ApiError): ...


class Conflict(ApiError): ...


class PayloadTooLarge(ApiError): ...


class UnsupportedMediaType(ApiError): ...


class ValidationFailed(ApiError): ...


class RateLimited(ApiError):
    retry_after: float | None = None


class ServerError(ApiError): ...


_BY_STATUS: Final[dict[int, type[ApiError]]] = {
    400: BadRequest,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationFailed,
    429: RateLimited,
}


def error_class(status: int) -> type[ApiError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ApiError)


def parse_error_body(content: bytes | str) -> tuple[str, str, Any] | None:
    """``(code, message, details)`` of a JSON error body, or None if it is not one."""
    try:
        body = json.loads(content)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        return None
    return error["code"], str(error.get("message", "")), error.get("details")


def error_from_response(response: httpx.Response) -> ApiError:
    """The exception for an error response (its body must have been read)."""
    status = response.status_code
    parsed = parse_error_body(response.content)
    code, message, details = parsed or ("http_error", response.reason_phrase or "error", None)
    error = error_class(status)(status, code, message, details)
    if isinstance(error, RateLimited):
        retry_after = response.headers.get("retry-after", "")
        error.retry_after = float(retry_after) if retry_after.isdigit() else None
    return error


def stream_closed(data: str) -> StreamClosed:
    code, message, details = parse_error_body(data) or ("unauthenticated", "stream closed", None)
    return StreamClosed(401, code, message, details)
