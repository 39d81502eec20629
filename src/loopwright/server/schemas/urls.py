"""URL fields of what a store defines (HTTP tools, MCP servers, provider base URLs): http(s),
a host of valid form and a port in range (``egress.urls``), judged when the body is read. The
egress guard judges where the host leads afterwards, in the route."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import AfterValidator, Field, StringConstraints

from loopwright.egress import url_problem
from loopwright.errors import ValidationFailed

MAX_URL_CHARS: Final = 2000


def _usable(url: str) -> str:
    problem = url_problem(url)
    if problem is not None:
        raise ValueError(problem)
    return url


OutboundUrl = Annotated[
    str,
    StringConstraints(max_length=MAX_URL_CHARS),
    AfterValidator(_usable),
    Field(json_schema_extra={"format": "uri"}),
]
UncheckedUrl = Annotated[
    str, StringConstraints(max_length=MAX_URL_CHARS), Field(json_schema_extra={"format": "uri"})
]
"""For updates, whose target must be found (404) before the URL is judged (``require_usable``)."""


def require_usable(url: str, field: str = "url") -> None:
    """Raise what an ``OutboundUrl`` field would have: a 422 naming ``body.<field>``."""
    problem = url_problem(url)
    if problem is not None:
        raise ValidationFailed(
            "request failed validation",
            details=[{"loc": ["body", field], "type": "value_error", "message": problem}],
        )
