"""Tools a store can use: built-in ones, HTTP tools it defines, and (later) MCP tools.

Header values of HTTP tools are write-only: they are accepted here, encrypted, and only their
names ever come back.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from loopwright.db.tables import HttpToolRow
from loopwright.server.schemas.common import Input, Output
from loopwright.server.schemas.urls import OutboundUrl
from loopwright.server.schemas.workspace import Timestamp
from loopwright.tools.http_tool import HttpMethod, schema_problems, template_problems
from loopwright.tools.spec import ToolSpec

ToolKind = Literal["builtin", "http", "mcp"]
ToolName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
HeaderName = Annotated[str, StringConstraints(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")]
HeaderValue = Annotated[str, StringConstraints(pattern=r"^[^\r\n\x00]*$", max_length=8000)]
MAX_HEADERS = 50
NO_ARGUMENTS: dict[str, Any] = {"type": "object", "properties": {}}

# Headers the HTTP client owns: framing, routing and the idempotency key the server sends.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "proxy-authorization",
        "proxy-connection",
        "idempotency-key",
    }
)


class HttpToolCreate(Input):
    name: ToolName
    description: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    url: OutboundUrl
    method: HttpMethod
    parameters: Annotated[
        dict[str, Any],
        Field(
            description='A JSON Schema of the arguments object (`"type": "object"`); `{}` for a '
            "tool that takes no arguments."
        ),
    ]
    headers: dict[HeaderName, HeaderValue] = Field(default_factory=dict)
    read_only: bool = False

    @field_validator("parameters")
    @classmethod
    def _a_schema_of_an_object(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:  # the empty schema: a tool without arguments
            return dict(NO_ARGUMENTS)
        problems = schema_problems(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("headers")
    @classmethod
    def _headers_we_may_send(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_HEADERS:
            raise ValueError(f"at most {MAX_HEADERS} headers")
        lowered = [name.lower() for name in value]
        reserved = sorted(set(lowered) & RESERVED_HEADERS)
        if reserved:
            raise ValueError(f"these headers are set by the server: {', '.join(reserved)}")
        if len(set(lowered)) != len(lowered):
            raise ValueError("a header name appears twice (header names ignore case)")
        return value

    @model_validator(mode="after")
    def _placeholders_fit_schema(self) -> Self:
        problems = template_problems(self.url, self.parameters)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class HttpToolDetails(Output):
    url: str
    method: str
    header_names: list[str]
    created_at: Timestamp


class ToolPublic(Output):
    name: str
    kind: ToolKind
    description: str
    read_only: bool
    parameters: dict[str, Any]
    http: HttpToolDetails | None = None

    @classmethod
    def builtin(cls, spec: ToolSpec) -> ToolPublic:
        return cls(
            name=spec.name,
            kind="builtin",
            description=spec.description,
            read_only=spec.read_only,
            parameters=spec.parameters(),
        )

    @classmethod
    def of_http(cls, row: HttpToolRow, header_names: list[str]) -> ToolPublic:
        return cls(
            name=row.name,
            kind="http",
            description=row.description,
            read_only=row.read_only,
            parameters=row.parameters,
            http=HttpToolDetails(
                url=row.url,
                method=row.method,
                header_names=sorted(header_names),
                created_at=row.created_at,
            ),
        )


class ToolTest(Input):
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolTestResult(Output):
    ok: bool
    result: Any
    duration_ms: float
