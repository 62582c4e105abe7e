"""The SQLModel tables are exactly what the migrations build, on SQLite and PostgreSQL.

A model change without a migration (or a migration the models do not follow) fails here:
Alembic compares a freshly migrated database with the metadata, types and server defaults
included, with the options autogenerate uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import BigInteger, Column, DefaultClause, Engine, Integer, MetaData, String
from sqlmodel import SQLModel

from recovery.db.migrate import COMPARE_OPTIONS
from tests.recovery.db.conftest import engine_at


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from engine_at(request.param, tmp_path, "head")


def differences(engine: Engine, metadata: MetaData) -> list[tuple[Any, ...]]:
    """What autogenerate would write to bring the database to `metadata`, one per change."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=COMPARE_OPTIONS)
        found = compare_metadata(context, metadata)
    # Changes to one column come grouped in a list; the others are tuples of their own.
    return [change for item in found for change in (item if isinstance(item, list) else [item])]


def copy_of_the_tables() -> MetaData:
    copy = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(copy)
    return copy


def test_the_tables_are_exactly_what_the_migrations_build(migrated: Engine) -> None:
    assert differences(migrated, SQLModel.metadata) == []


def test_a_column_the_migrations_lack_is_reported(migrated: Engine) -> None:
    tables = copy_of_the_tables()
    tables.tables["cases"].append_column(Column("probe", Integer, nullable=True))
    changes = differences(migrated, tables)
    assert [(c[0], c[2], c[3].name) for c in changes] == [("add_column", "cases", "probe")]


def test_a_changed_type_is_reported_custom_types_included(migrated: Engine) -> None:
    tables = copy_of_the_tables()
    tables.tables["cases"].c.tx_hash.type = String(64)
    # `Amount` (numeric(78,0) on PostgreSQL, varchar(80) on SQLite) as a plain integer.
    tables.tables["quotes"].c.gross_amount.type = BigInteger()
    changes = differences(migrated, tables)
    assert sorted((c[0], c[2], c[3]) for c in changes) == [
        ("modify_type", "cases", "tx_hash"),
        ("modify_type", "quotes", "gross_amount"),
    ]


def test_a_changed_server_default_is_reported(migrated: Engine) -> None:
    tables = copy_of_the_tables()
    tables.tables["payout_transactions"].c.state.server_default = DefaultClause("mined")
    changes = differences(migrated, tables)
    assert [(c[0], c[2], c[3]) for c in changes] == [
        ("modify_default", "payout_transactions", "state")
    ]
