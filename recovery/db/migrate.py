"""Applies the Alembic migrations that ship inside the package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"

# How autogenerate (env.py) and the test that the tables match the migrations compare a
# database with the metadata: column types and server defaults too, not only names.
# The custom types need no special case: Alembic compares a TypeDecorator by the type it
# renders on the dialect (`Amount` as numeric(78,0) on PostgreSQL, varchar(80) on SQLite).
COMPARE_OPTIONS: dict[str, Any] = {"compare_type": True, "compare_server_default": True}


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database behind `engine` up to `revision`."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
