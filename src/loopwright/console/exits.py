"""The exit codes of the client-side commands (``chat``, ``agent``, ``runs``, …), which scripts
can rely on, and the one place a client error becomes a message and a code."""

from __future__ import annotations

from typing import Final

from loopwright.client.errors import (
    ApiError,
    ClientError,
    Forbidden,
    NotFound,
    TransportFailed,
    Unauthenticated,
    ValidationFailed,
)

OK: Final = 0
FAILED: Final = 1
"""The server refused or failed the request (a conflict, a server error, …)."""
USAGE: Final = 2
"""Bad options or arguments (the command line itself, or a 422 from the server)."""
UNREACHABLE: Final = 3
"""No answer from the server: wrong ``--url``, server down, connection broken."""
NOT_FOUND: Final = 4
"""The store, agent, session, run or tool named does not exist (or is not the key's)."""
DENIED: Final = 5
"""No key, an unknown key, or a role too low for the request."""
INTERRUPTED: Final = 130
"""Left with Ctrl-C."""


def exit_code(error: ClientError) -> int:
    if isinstance(error, TransportFailed):
        return UNREACHABLE
    if isinstance(error, NotFound):
        return NOT_FOUND
    if isinstance(error, Unauthenticated | Forbidden):
        return DENIED
    if isinstance(error, ValidationFailed):
        return USAGE
    return FAILED


def describe(error: ClientError) -> str:
    if isinstance(error, ApiError):
        text = f"{error.message} ({error.code})"
        if isinstance(error, ValidationFailed) and isinstance(error.details, list):
            problems = [
                f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg', '')}"
                for d in error.details
                if isinstance(d, dict)
            ]
            text += "".join(f"\n  {p}" for p in problems)
        return text
    return str(error)
