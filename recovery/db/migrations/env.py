"""Alembic environment: runs migrations on the connection or URL the caller gives."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

# Importing the tables registers each of them on SQLModel's one metadata.
import recovery.db.tables  # noqa: F401
from recovery.db.migrate import COMPARE_OPTIONS

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    """Run against `config.attributes['connection']` if given, else the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            **COMPARE_OPTIONS,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    from sqlalchemy import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            render_as_batch=True,
            **COMPARE_OPTIONS,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
