"""Wires the real dependencies together from settings: one place, used by every entry point."""

from __future__ import annotations

from policies import Policy, load_policy
from recovery.api.context import AppContext
from recovery.db.engine import Database, make_engine
from recovery.db.migrate import upgrade
from recovery.settings import Settings


def build_policy(settings: Settings) -> Policy:
    """The shipped policy with the configured overlays."""
    return load_policy(overlays=settings.policy_overlays)


def build_context(settings: Settings, *, migrate: bool | None = None) -> AppContext:
    """Database (migrated on SQLite unless told otherwise) and policy for one process."""
    database = Database(make_engine(settings.database_url))
    if migrate if migrate is not None else settings.is_sqlite:
        upgrade(database.engine)
    return AppContext(settings=settings, database=database, policy=build_policy(settings))
