"""One exception tree with stable codes, mapped to HTTP exactly once (in ``server.errors``).

    LoopwrightError                 code            status
    ├── BadRequest                  bad_request      400
    │   └── ValidationFailed        validation_error 422
    ├── Unauthenticated             unauthenticated  401
    ├── Forbidden                   forbidden        403
    ├── NotFound                    not_found        404
    ├── Conflict                    conflict         409
    ├── PayloadTooLarge             payload_too_large 413
    ├── RateLimited                 rate_limited     429
    └── Unavailable                 unavailable      503

Cancellation is not part of this tree: it travels as ``asyncio.CancelledError``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LoopwrightError(Exception):
    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(LoopwrightError):
    code = "bad_request"
    status = 400


class ValidationFailed(BadRequest):
    code = "validation_error"
    status = 422


class Unauthenticated(LoopwrightError):
    code = "unauthenticated"
    status = 401


class Forbidden(LoopwrightError):
    code = "forbidden"
    status = 403


class NotFound(LoopwrightError):
    code = "not_found"
    status = 404

    @classmethod
    def of(cls, kind: str, ident: str) -> NotFound:
        return cls(f"{kind} {ident!r} not found", details={"kind": kind, "id": ident})


class Conflict(LoopwrightError):
    code = "conflict"
    status = 409


class PayloadTooLarge(LoopwrightError):
    code = "payload_too_large"
    status = 413


class RateLimited(LoopwrightError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after_s: float, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after_s = retry_after_s


class Unavailable(LoopwrightError):
    code = "unavailable"
    status = 503
