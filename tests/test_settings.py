"""Settings derived from others."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopwright.settings import Settings


@pytest.mark.parametrize(
    ("app", "system"),
    [
        (
            "postgresql+psycopg://app:pw@db.internal:6432/loopwright",
            "postgresql://app:pw@db.internal:6432/loopwright_dbos",
        ),
        (  # options stay: TLS to a remote server
            "postgresql://app@db.internal/loopwright?sslmode=require",
            "postgresql://app@db.internal/loopwright_dbos?sslmode=require",
        ),
        (  # a Unix socket's directory in the query: its slashes are not the database's
            "postgresql://postgres@/loopwright?host=/var/run/postgresql",
            "postgresql://postgres@/loopwright_dbos?host=/var/run/postgresql",
        ),
    ],
)
def test_dbos_system_database_is_beside_the_app_database(
    tmp_path: Path, app: str, system: str
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=app)
    assert settings.dbos_system_url == system


def test_an_explicit_system_database_wins(tmp_path: Path) -> None:
    explicit = "postgresql://postgres@127.0.0.1:5432/elsewhere"
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql://postgres@127.0.0.1:5432/app",
        system_database_url=explicit,
    )
    assert settings.dbos_system_url == explicit
