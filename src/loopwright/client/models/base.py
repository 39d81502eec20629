"""The base of every response model, and a page of a list."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Page(Model, Generic[T]):
    """One page of a list; pass ``next_cursor`` as the next call's ``cursor`` (or use
    ``client.paginate``)."""

    items: list[T]
    next_cursor: str | None = None
