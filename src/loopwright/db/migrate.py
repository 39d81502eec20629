"""Apply Alembic migrations (at start-up and by ``loopwright migrate``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from loopwright.settings import sync_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(async_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url(async_url).replace("%", "%%"))
    return config


def upgrade(async_url: str) -> None:
    command.upgrade(alembic_config(async_url), "head")


def head_revision() -> str | None:
    """The newest migration's revision, as the scripts say."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
