"""The OpenAPI document, made to tell the truth about what each operation can answer.

FastAPI documents a route's success and, for a route with inputs, a 422 in its own
``{"detail": ...}`` shape. Every error of this server is ``{"error": {code, message, details}}``
(the ``ErrorBody`` component), and which errors an operation can answer follows from what the
operation has, so it is derived from the generated document:

- a key (the bearer security scheme, declared by ``auth.BEARER``): 401; and 403 where the
  requirement names a role above the lowest (``readonly``), which any key of the store has;
- path parameters: 404 (missing, or in another store);
- parameters or a body: 422;
- a body: 400 (not JSON) and 413 (over the size limit);
- anything else a route declares itself, e.g. ``responses=CONFLICT`` (409).

A route added later is covered without a change here; the fuzzer (tests/test_fuzz_api.py)
fails on any status an operation answers but does not document.
"""

from __future__ import annotations

import json
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from loopwright.domain.vocabulary import ROLE_RANK
from loopwright.server.errors import ERROR_CODES

ERROR_BODY_REF: Final = "#/components/schemas/ErrorBody"
LOWEST_ROLE: Final = min(ROLE_RANK, key=ROLE_RANK.__getitem__)
"""Every key of a store has it: an operation that needs no more never answers 403."""

_WHEN: Final[dict[int, str]] = {
    400: "The body is not JSON (`malformed_json`).",
    401: "No key, or an unknown or deleted key (`unauthenticated`).",
    403: "The key's role is too low for this call (`forbidden`).",
    404: "Not found, or in another store (`not_found`).",
    409: "The request conflicts with the store's state (`conflict`).",
    413: "The body is over `LOOPWRIGHT_MAX_BODY_BYTES` (`payload_too_large`).",
    422: "The request failed validation (`validation_error`, or `egress_denied` for a URL "
    "that leads somewhere the server may not call); `details` lists each problem.",
    429: "Over a rate limit (`rate_limited`); `Retry-After` says when to try again.",
    502: "An upstream server failed (`provider_error`, `mcp_error`).",
    503: "Temporarily unavailable (`unavailable`, `circuit_open`).",
}


def declared(status: int, when: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that can answer ``status`` beyond what is derived."""
    return {status: {"description": when}}


CONFLICT: Final = declared(409, _WHEN[409])


def _error_schemas() -> dict[str, Any]:
    codes = sorted({code for group in ERROR_CODES.values() for code in group})
    return {
        "ErrorBody": {
            "title": "ErrorBody",
            "description": "Every error the server answers.",
            "type": "object",
            "required": ["error"],
            "additionalProperties": False,
            "properties": {"error": {"$ref": "#/components/schemas/ErrorDetail"}},
        },
        "ErrorDetail": {
            "title": "ErrorDetail",
            "type": "object",
            "required": ["code", "message", "details"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "enum": codes},
                "message": {"type": "string"},
                "details": {"description": "What went wrong, by code (any JSON, or null)."},
            },
        },
    }


def _error_response(status: int, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or _WHEN.get(status, "An error."),
        "content": {"application/json": {"schema": {"$ref": ERROR_BODY_REF}}},
    }


def derived_errors(operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, from what it takes."""
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    statuses: set[int] = set()
    requirements: list[dict[str, list[str]]] = operation.get("security", [])
    if requirements:
        statuses.add(401)
    roles = {
        role for requirement in requirements for scopes in requirement.values() for role in scopes
    }
    if roles - {LOWEST_ROLE}:
        statuses.add(403)
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if parameters or has_body:
        statuses.add(422)
    if has_body:
        statuses |= {400, 413}
    return statuses


def _document_errors(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in derived_errors(operation):
        responses.setdefault(str(status), {})
    for key, response in list(responses.items()):
        if key.isdigit() and int(key) >= 400:
            responses[key] = _error_response(int(key), response.get("description"))


def _drop_unused(document: dict[str, Any], names: tuple[str, ...]) -> None:
    """FastAPI's own 422 shape, which no operation answers with any more."""
    schemas = document.get("components", {}).get("schemas", {})
    text = json.dumps([document["paths"], schemas])
    for name in names:
        if json.dumps(f"#/components/schemas/{name}") not in text:
            schemas.pop(name, None)


def build(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            _document_errors(operation)
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(_error_schemas())
    _drop_unused(document, ("HTTPValidationError", "ValidationError"))
    return document


def install(app: FastAPI) -> None:
    """Serve the derived document at ``/openapi.json`` (built once, on first request)."""
    cached: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not cached:
            cached.update(build(app))
        return cached

    app.openapi = openapi  # type: ignore[method-assign]
