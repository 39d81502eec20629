"""Stores and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from loopwright.domain.vocabulary import Role
from loopwright.server.schemas.common import Input, Output

StoreSlug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")]


class StoreCreate(Input):
    id: StoreSlug
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


class StorePublic(Output):
    id: str
    name: str
    created_at: datetime


class KeyCreate(Input):
    role: Role
    name: Annotated[str, StringConstraints(max_length=200)] = ""


class KeyPublic(Output):
    id: str
    role: str
    name: str
    prefix: str = Field(description="the first characters of the key, to recognise it")
    created_at: datetime


class KeyIssued(KeyPublic):
    key: str = Field(description="the secret; shown only in this response")
