"""Model providers a store registers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import StringConstraints

from loopwright.db.tables import ProviderRow
from loopwright.server.schemas.common import Input, Output
from loopwright.server.schemas.urls import OutboundUrl

ProviderName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class ProviderCreate(Input):
    name: ProviderName
    kind: Literal["openai", "anthropic", "google"]
    base_url: OutboundUrl | None = None
    api_key: Annotated[str, StringConstraints(min_length=1, max_length=4000)] | None = None


class ProviderPublic(Output):
    id: str
    name: str
    kind: str
    base_url: str | None
    has_api_key: bool
    created_at: datetime

    @classmethod
    def of(cls, row: ProviderRow) -> ProviderPublic:
        return cls(
            id=row.id,
            name=row.name,
            kind=row.kind,
            base_url=row.base_url,
            has_api_key=row.api_key_enc is not None,
            created_at=row.created_at,
        )
