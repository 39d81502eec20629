"""What the fuzzer checks on every response (tests/fuzz_runner.py).

Schemathesis' own checks: no 5xx, the status is one the operation documents, the content type
and the body fit what is documented for that status. Ours: every error, documented or not (a
404 of an unknown path, a 405, a 500), is the server's JSON error shape.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from schemathesis import Case, CheckContext, CheckFunction, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)


def error_problem(status: int, text: str) -> str | None:
    """Why an error response is not ``{"error": {code, message, details}}`` (None if it is)."""
    try:
        body: Any = json.loads(text)
    except ValueError:
        return f"a {status} whose body is not JSON: {text[:200]!r}"
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(error, dict):
        return f'a {status} whose body is not {{"error": {{...}}}}: {text[:200]!r}'
    if set(error) != {"code", "message", "details"}:
        return f"a {status} whose error has the fields {sorted(error)}, not code/message/details"
    if not isinstance(error["code"], str) or not isinstance(error["message"], str):
        return f"a {status} whose error code or message is not a string: {text[:200]!r}"
    return None


@schemathesis.check
def error_shape(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    if response.status_code < 400:
        return None
    problem = error_problem(response.status_code, response.text)
    if problem is not None:
        raise AssertionError(problem)
    return True


CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    error_shape,
]
