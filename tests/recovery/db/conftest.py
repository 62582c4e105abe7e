"""Databases migrated to an older revision, as a deployed service has them before a release."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine

from recovery.db.engine import make_engine
from recovery.db.migrate import upgrade
from recovery.settings import Settings
from tests.conftest import postgres_schema


def engine_at(kind: str, tmp_path: Path, revision: str) -> Iterator[Engine]:
    """A fresh SQLite file or PostgreSQL schema migrated up to `revision` only."""
    if kind == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        upgrade(engine, revision)
        yield engine
        engine.dispose()
        return
    for url in postgres_schema("recovery_mig"):
        engine = make_engine(Settings(database_url=url).database_url)
        upgrade(engine, revision)
        yield engine
        engine.dispose()
