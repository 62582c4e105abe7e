"""The database engine and units of work (one transaction per request or job step).

Jobs and the CLI use `unit_of_work()`, a blocking session. The API's routes use
`await database.run(work)` / `await database.read(work)`: the same blocking `work(session)`
functions, run without tying up a thread; `await database.rows(work)` hands Core reads a
bare connection instead of a session. On PostgreSQL they run on an async engine
(asyncpg, or psycopg's async connections, through SQLAlchemy's greenlet bridge), which the
API opens at start-up with `open_async()` for its event loop; on SQLite, or in a loop
that has not opened one, in a worker thread.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import URL, Connection, Engine, Select, create_engine, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

T = TypeVar("T")

# Connections the API's async engine keeps per process. Requests beyond it wait for one
# (up to `pool_timeout`) instead of opening and closing an overflow connection each.
ASYNC_POOL_SIZE = 20
# `Database.fetch` compiles a statement once; its statements are built once per filter set
# (a few dozen). Past this many, a statement is compiled at each call instead of kept.
PREPARED_LIMIT = 256


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`, with SQLite tuned for one process with several threads."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def async_url(url: URL) -> tuple[URL, dict[str, Any]]:
    """The async driver's URL for a PostgreSQL `url`, and what its connections need.

    asyncpg (the fastest) when the URL carries nothing but libpq's `options=-c name=value`
    settings (they become asyncpg's server settings), else psycopg's async connections,
    which read any libpq URL as the blocking engine does.
    """
    query = dict(url.query)
    if set(query) <= {"options"}:
        settings: dict[str, str] = {}
        words = iter(shlex.split(str(query.get("options", ""))))
        for word in words:
            # libpq takes both `-c name=value` and `-cname=value`.
            setting = (next(words, "") if word == "-c" else word.removeprefix("-c")).strip()
            name, equals, value = setting.partition("=")
            if not word.startswith("-c") or not equals or not name:
                break
            settings[name] = value
        else:
            connect_args = {"server_settings": settings} if settings else {}
            return url.set(drivername="postgresql+asyncpg", query={}), connect_args
    return url.set(drivername="postgresql+psycopg"), {}


@dataclass(frozen=True)
class _AsyncPool:
    """One event loop's async engine and its two session factories."""

    engine: AsyncEngine
    sessions: async_sessionmaker[Any]
    reads: async_sessionmaker[Any]
    autocommit: AsyncEngine
    # `fetch`'s statements compiled for the raw driver (asyncpg): SQL and parameter order.
    compiled: dict[int, tuple[Select[Any], str, tuple[str, ...], dict[str, Any]]] = field(
        default_factory=dict
    )

    def prepared(self, statement: Select[Any]) -> tuple[str, tuple[str, ...], dict[str, Any]]:
        """The SQL of `statement` for asyncpg, the names of its parameters in order, and
        the values of those the statement binds itself (its literals)."""
        found = self.compiled.get(id(statement))
        # The entry holds the statement, so its id cannot be reused while the entry lives.
        if found is None or found[0] is not statement:
            compiled = statement.compile(dialect=self.engine.dialect)
            names = tuple(compiled.positiontup or ())
            # Only the statement's literals: a bindparam() left without a value is the
            # caller's to give (a KeyError if not), never a silent NULL.
            literals = {
                name: compiled.params[name] for name in names if not compiled.binds[name].required
            }
            found = (statement, compiled.string, names, literals)
            if len(self.compiled) < PREPARED_LIMIT:
                self.compiled[id(statement)] = found
        return found[1], found[2], found[3]


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Database:
    """Hands out sessions; `unit_of_work()` commits on success and rolls back on error."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # Async connections belong to the event loop that opened them, so each loop that
        # serves the API (one per process in production; one per test client in tests)
        # has a pool of its own, and a loop without one runs its work in a thread.
        self._async: dict[asyncio.AbstractEventLoop, _AsyncPool] = {}

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _in_unit_of_work(self, work: Callable[[Session], T]) -> T:
        with self.unit_of_work() as session:
            return work(session)

    @property
    def async_engine(self) -> AsyncEngine | None:
        """The running event loop's async engine, if `open_async()` opened one for it."""
        loop = _running_loop()
        pool = self._async.get(loop) if loop is not None else None
        return pool.engine if pool is not None else None

    def open_async(self) -> bool:
        """Open an async engine for the running event loop (PostgreSQL only; SQLite keeps
        threads). True when this call opened it, so the caller knows to close it."""
        loop = asyncio.get_running_loop()
        if loop in self._async or self.engine.dialect.name != "postgresql":
            return False
        url, connect_args = async_url(self.engine.url)
        engine = create_async_engine(
            url,
            pool_size=ASYNC_POOL_SIZE,
            max_overflow=0,
            pool_timeout=30,
            connect_args=connect_args,
        )
        # A read is one or two statements that need no transaction of their own: in
        # autocommit each is a single round trip, with no BEGIN and no COMMIT.
        reads = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._async[loop] = _AsyncPool(
            engine=engine,
            sessions=async_sessionmaker(engine, expire_on_commit=False),
            reads=async_sessionmaker(reads, expire_on_commit=False),
            autocommit=reads,
        )
        return True

    async def close_async(self) -> None:
        """Close the running event loop's async engine (at the API's shutdown)."""
        pool = self._async.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.engine.dispose()

    async def run(self, work: Callable[[Session], T]) -> T:
        """`work(session)` in one transaction, committed if it returns, rolled back if not."""
        pool = self._async.get(asyncio.get_running_loop())
        if pool is None:
            return await run_in_threadpool(self._in_unit_of_work, work)
        async with pool.sessions() as session, session.begin():
            return await session.run_sync(work)  # type: ignore[no-any-return]

    async def read(self, work: Callable[[Session], T]) -> T:
        """`work(session)` that only reads: each statement sees what is committed."""
        pool = self._async.get(asyncio.get_running_loop())
        if pool is None:
            return await run_in_threadpool(self._in_unit_of_work, work)
        async with pool.reads() as session:
            return await session.run_sync(work)  # type: ignore[no-any-return]

    async def rows(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` that only runs Core reads: no session and no ORM objects, the
        cheapest way to a row (each statement in autocommit, seeing what is committed)."""
        pool = self._async.get(asyncio.get_running_loop())
        if pool is None:
            return await run_in_threadpool(self._on_connection, work)
        async with pool.autocommit.connect() as connection:
            return await connection.run_sync(work)

    async def fetch(
        self, statement: Select[Any], parameters: Mapping[str, Any]
    ) -> Sequence[Sequence[Any]]:
        """The rows of one read `statement` (autocommit), as sequences of column values.

        On asyncpg the statement runs as a prepared statement on the driver's own
        connection, compiled once: a third of the CPU of the same read through
        SQLAlchemy's result machinery. Elsewhere it runs through `rows`. The values are
        the driver's, not the column types' (an asyncpg numeric is a Decimal), and so are
        the parameters (no column type's bind processing): a statement run here selects as
        text what would differ (see `PUBLIC_COLUMNS`) and binds plain values (aware
        datetimes, ints, strings).
        """
        pool = self._async.get(asyncio.get_running_loop())
        if pool is None or pool.engine.dialect.driver != "asyncpg":
            return await self.rows(lambda c: [tuple(r) for r in c.execute(statement, parameters)])
        sql, names, literals = pool.prepared(statement)
        values = {**literals, **parameters}
        async with pool.autocommit.connect() as connection:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            try:
                rows: Sequence[Sequence[Any]] = await driver.fetch(
                    sql, *(values[name] for name in names)
                )
            except Exception:
                if driver.is_closed():
                    # SQLAlchemy did not see the failure: the pool must not reuse it.
                    await connection.invalidate()
                raise
        return rows

    def _on_connection(self, work: Callable[[Connection], T]) -> T:
        with self.engine.connect() as connection:
            return work(connection)

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
