"""Databases migrated to an older revision, as a deployed service has them before a release."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from recovery.db.engine import make_engine
from recovery.db.migrate import upgrade
from recovery.settings import Settings
from tests.conftest import postgres_url


def engine_at(kind: str, tmp_path: Path, revision: str) -> Iterator[Engine]:
    """A fresh SQLite file or PostgreSQL schema migrated up to `revision` only."""
    if kind == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        upgrade(engine, revision)
        yield engine
        engine.dispose()
        return
    url = postgres_url()
    if not url:
        pytest.skip("RECOVERY_TEST_DATABASE_URL not set")
    base = Settings(database_url=url).database_url
    schema = f"recovery_mig_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    joiner = "&" if "?" in base else "?"
    engine = make_engine(f"{base}{joiner}options=-csearch_path%3D{schema}")
    upgrade(engine, revision)
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
