"""MCP servers a store registers. Headers go in, only their names come out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import MISSING, AfterValidator, Field, StringConstraints

from loopwright.db.tables import McpServerRow
from loopwright.server.schemas.common import Input, Output
from loopwright.server.schemas.urls import OutboundUrl, UncheckedUrl

McpServerName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
McpTransportIn = Literal["streamable_http", "sse", "stdio"]
"""``stdio`` is accepted here so that the route can say why it is refused."""
HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")]
HeaderValue = Annotated[str, StringConstraints(pattern=r"^[^\r\n]*$", max_length=8000)]

RESERVED_HEADERS = frozenset(
    {
        "accept",
        "connection",
        "content-length",
        "content-type",
        "host",
        "idempotency-key",
        "last-event-id",
        "mcp-protocol-version",
        "mcp-session-id",
        "transfer-encoding",
    }
)


def _no_reserved(headers: dict[str, str] | None) -> dict[str, str] | None:
    taken = sorted(n for n in headers or {} if n.lower() in RESERVED_HEADERS)
    if taken:
        raise ValueError(f"these headers are set by the MCP client itself: {', '.join(taken)}")
    return headers


Headers = Annotated[dict[HeaderName, HeaderValue], Field(max_length=50)]


class McpServerCreate(Input):
    name: McpServerName
    transport: McpTransportIn
    url: OutboundUrl
    headers: Annotated[Headers, AfterValidator(_no_reserved)] = {}


class McpServerUpdate(Input):
    """A field left out is left as it is."""

    name: McpServerName | MISSING = MISSING
    transport: McpTransportIn | MISSING = MISSING
    url: UncheckedUrl | MISSING = MISSING
    """Judged after the server is found: a missing server is a 404 whatever the body says."""
    headers: Annotated[Headers | None, AfterValidator(_no_reserved)] | MISSING = MISSING
    """Replaces every header; ``{}`` or ``null`` removes them all."""
    enabled: bool | MISSING = MISSING


class McpServerPublic(Output):
    id: str
    name: str
    transport: str
    url: str
    header_names: list[str]
    enabled: bool
    created_at: datetime

    @classmethod
    def of(cls, row: McpServerRow, header_names: list[str]) -> McpServerPublic:
        return cls(
            id=row.id,
            name=row.name,
            transport=row.transport,
            url=row.url,
            header_names=header_names,
            enabled=row.enabled,
            # SQLite hands stored datetimes back naive; they were written in UTC.
            created_at=row.created_at.replace(tzinfo=row.created_at.tzinfo or UTC),
        )


class McpHealth(Output):
    ok: bool
    tools: list[str]
    latency_ms: float
    error: str | None = None
