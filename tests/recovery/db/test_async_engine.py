"""The API's units of work: on PostgreSQL an async engine per event loop (asyncpg where
the URL allows), on SQLite and in a loop without one a worker thread; either way one
transaction that commits when the work returns and rolls back when it raises."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import bindparam, func, make_url, select
from sqlalchemy.orm import Session

from recovery.api.app import create_app
from recovery.api.context import AppContext
from recovery.db.engine import Database, async_url
from recovery.db.tables import ApiKeyRow


def test_a_url_with_only_server_settings_goes_to_asyncpg_with_them_as_server_settings() -> None:
    url, connect_args = async_url(
        make_url("postgresql+psycopg://u@db:5432/app?options=-c%20search_path%3Dcase_7")
    )
    assert url.drivername == "postgresql+asyncpg"
    assert (url.host, url.database, dict(url.query)) == ("db", "app", {})
    assert connect_args == {"server_settings": {"search_path": "case_7"}}


def test_a_url_with_other_libpq_parameters_keeps_them_on_psycopgs_async_driver() -> None:
    url, connect_args = async_url(make_url("postgresql://u@db/app?sslmode=require"))
    assert url.drivername == "postgresql+psycopg"
    assert dict(url.query) == {"sslmode": "require"}
    assert connect_args == {}


def count_keys(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ApiKeyRow)) or 0


def add_key_then(fail: bool) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        created = datetime(2026, 1, 1, tzinfo=UTC)
        session.add(
            ApiKeyRow(prefix="k1", key_hash="0" * 64, subject="s", role="user", created_at=created)
        )
        session.flush()
        if fail:
            raise RuntimeError("the work failed after writing")
        return "done"

    return work


def test_run_commits_what_returns_and_rolls_back_what_raises(database: Database) -> None:
    async def main() -> tuple[bool, bool, int, int]:
        opened = await database.open_async()
        has_engine = database.async_engine is not None
        try:
            with pytest.raises(RuntimeError, match="failed after writing"):
                await database.run(add_key_then(fail=True))
            after_failure = await database.read(count_keys)
            assert await database.run(add_key_then(fail=False)) == "done"
            after_success = await database.read(count_keys)
        finally:
            if opened:
                await database.close_async()
        return opened, has_engine, after_failure, after_success

    opened, has_engine, after_failure, after_success = asyncio.run(main())
    postgres = database.engine.dialect.name == "postgresql"
    assert (opened, has_engine) == (postgres, postgres)
    assert (after_failure, after_success) == (0, 1)


def test_a_loop_without_an_engine_of_its_own_runs_its_work_in_a_thread(
    database: Database,
) -> None:
    async def opener() -> None:
        await database.open_async()

    asyncio.run(opener())  # that loop ends; its engine is never used again

    async def elsewhere() -> tuple[bool, int]:
        return database.async_engine is None, await database.read(count_keys)

    assert asyncio.run(elsewhere()) == (True, 0)


def test_the_apps_lifespan_opens_an_engine_for_its_loop_and_closes_it(
    context: AppContext,
) -> None:
    with TestClient(create_app(context)) as client:
        inside = client.portal.call(lambda: context.database.async_engine)  # type: ignore[union-attr]
        assert client.get("/healthz").status_code == 200
    postgres = context.database.engine.dialect.name == "postgresql"
    assert (inside is not None) == postgres
    assert context.database._async == {}, "closed at shutdown"


def test_both_spellings_of_a_libpq_setting_become_server_settings() -> None:
    _, joined = async_url(make_url("postgresql://u@db/app?options=-cstatement_timeout%3D5000"))
    _, spaced = async_url(make_url("postgresql://u@db/app?options=-c%20a%3D1%20-c%20b%3D2"))
    assert joined == {"server_settings": {"statement_timeout": "5000"}}
    assert spaced == {"server_settings": {"a": "1", "b": "2"}}


def test_an_option_that_is_not_a_setting_keeps_the_url_on_psycopg() -> None:
    url, connect_args = async_url(make_url("postgresql://u@db/app?options=--verbose"))
    assert url.drivername == "postgresql+psycopg"
    assert dict(url.query) == {"options": "--verbose"}
    assert connect_args == {}


def test_fetch_reads_rows_and_a_dropped_connection_is_not_reused(database: Database) -> None:
    statement = select(ApiKeyRow.subject).order_by(ApiKeyRow.subject)
    postgres = database.engine.dialect.name == "postgresql"

    async def main() -> tuple[list[tuple[str, ...]], bool, list[tuple[str, ...]]]:
        opened = await database.open_async()
        try:
            await database.run(add_key_then(fail=False))
            first = [tuple(row) for row in await database.fetch(statement, {})]
            broke = False
            if postgres:
                # The pool's one connection loses its server process, as in a restart.
                ((pid,),) = await database.fetch(select(func.pg_backend_pid()), {})
                with database.engine.connect() as connection:
                    connection.execute(select(func.pg_terminate_backend(pid)))
                try:
                    await database.fetch(statement, {})
                except Exception:
                    broke = True
            again = [tuple(row) for row in await database.fetch(statement, {})]
        finally:
            if opened:
                await database.close_async()
        return first, broke, again

    first, broke, again = asyncio.run(main())
    assert first == again == [("s",)]
    assert broke == postgres


def test_fetch_refuses_a_parameter_left_out_instead_of_binding_null(database: Database) -> None:
    statement = select(ApiKeyRow.subject).where(ApiKeyRow.prefix == bindparam("prefix"))

    async def main() -> BaseException | None:
        opened = await database.open_async()
        try:
            await database.fetch(statement, {})
        except Exception as error:  # the driver path's KeyError or SQLAlchemy's own
            return error
        finally:
            if opened:
                await database.close_async()
        return None

    error = asyncio.run(main())
    assert error is not None
    assert "prefix" in str(error)
