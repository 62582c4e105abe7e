"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, the app, API keys."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from chains.devnet import DevnetCluster
from policies import Policy, load_policy
from recovery.access.keys import Role, create_key
from recovery.api.app import create_app
from recovery.api.context import AppContext
from recovery.db.engine import Database, make_engine
from recovery.db.migrate import upgrade
from recovery.db.tables import metadata
from recovery.settings import Settings

PG_URL_VARIABLE = "RECOVERY_TEST_DATABASE_URL"


def postgres_url() -> str | None:
    """The PostgreSQL server the tests may use; under CI its absence is a failure."""
    url = os.environ.get(PG_URL_VARIABLE)
    if not url and os.environ.get("CI"):
        pytest.fail(f"{PG_URL_VARIABLE} is not set; CI must run the PostgreSQL tests")
    return url


def postgres_schema(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, as a database URL (skipped without a server,
    a failure under CI); dropped afterwards. psycopg takes `options` from the URL."""
    url = postgres_url()
    if not url:
        pytest.skip(f"{PG_URL_VARIABLE} not set")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(Settings(database_url=url).database_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    joiner = "&" if "?" in url else "?"
    try:
        yield f"{url}{joiner}options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


class Clock:
    """A clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(overlays=["devnet"])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    """An engine on a schema of its own for this run, migrated once, dropped at the end."""
    url = postgres_url()
    if not url:
        pytest.skip(f"{PG_URL_VARIABLE} not set (CI sets it; run `make test` for both)")
    schema = f"recovery_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(Settings(database_url=url).database_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    # The schema rides in the URL, so a subprocess given this URL lands in it too.
    base = Settings(database_url=url).database_url
    joiner = "&" if "?" in base else "?"
    engine = make_engine(f"{base}{joiner}options=-csearch_path%3D{schema}")
    upgrade(engine)
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _truncate(engine: Engine) -> None:
    tables = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database: a fresh SQLite file, or the run's PostgreSQL schema."""
    if request.param == "sqlite":
        path = tmp_path / "recovery.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        engine = make_engine(f"sqlite:///{path}")
        yield Database(engine)
        engine.dispose()
    else:
        engine = request.getfixturevalue("postgres_engine")
        _truncate(engine)
        yield Database(engine)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def context(database: Database, policy: Policy, clock: Clock) -> AppContext:
    settings = Settings(database_url=str(database.engine.url), max_body_bytes=16_384)
    return AppContext(settings=settings, database=database, policy=policy, clock=clock)


@pytest.fixture
def client(context: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(context)) as test_client:
        yield test_client


KeyMaker = Callable[..., dict[str, str]]


@pytest.fixture
def auth(context: AppContext) -> KeyMaker:
    """Makes a key for `subject` with `role` and returns the headers that carry it."""

    def make(subject: str = "alice", role: Role = Role.USER) -> dict[str, str]:
        with context.database.unit_of_work() as session:
            key = create_key(session, role=role, subject=subject, now=datetime.now(UTC))
        return {"Authorization": f"Bearer {key}"}

    return make


@pytest.fixture(scope="session")
def devnet() -> Iterator[DevnetCluster]:
    """Two real anvil nodes for the whole run: ethereum (chain id 1) and bsc (56).

    A missing anvil binary is an error, never a skip.
    """
    with DevnetCluster({"ethereum": 1, "bsc": 56}) as cluster:
        yield cluster


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many tests ran against PostgreSQL, so a skipped database cannot hide."""
    ran = {
        outcome: sum(
            1
            for report in terminalreporter.stats.get(outcome, [])
            if getattr(report, "when", "call") == "call" and "[postgres" in report.nodeid
        )
        for outcome in ("passed", "failed", "skipped")
    }
    url = os.environ.get(PG_URL_VARIABLE, "(not set)")
    terminalreporter.write_line(
        f"PostgreSQL ({url}): {ran['passed']} passed, {ran['failed']} failed, "
        f"{ran['skipped']} skipped"
    )
