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
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
from asyncpg.exceptions import (  # type: ignore[import-untyped]
    IntegrityConstraintViolationError,
)
from sqlalchemy import (
    URL,
    CompoundSelect,
    Connection,
    Delete,
    Engine,
    Insert,
    Select,
    Update,
    create_engine,
    event,
    text,
)
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

T = TypeVar("T")
# What `fetch` and `write` run: a Core statement (on a SQLModel table, say).
Rows = Select[*tuple[Any, ...]] | CompoundSelect[*tuple[Any, ...]]
Statement = Rows | Insert | Update | Delete

# Connections the API's async engine keeps per process, and as many again in the pool of
# bare asyncpg connections the hot paths use (`fetch`, `write`). Requests beyond it wait
# for one (up to `pool_timeout`) instead of opening and closing an overflow connection.
ASYNC_POOL_SIZE = 10
# Seconds a request waits for a connection of either pool before it fails.
POOL_TIMEOUT = 30
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


# A bound value's conversion for the driver (a column type's bind processor), if any.
_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A statement compiled for the raw driver: its SQL, the names of its parameters in
    order, the values of those the statement binds itself (its literals), and each
    parameter's conversion by its type (JSON to text, an amount to a Decimal, ...)."""

    statement: Statement
    sql: str
    names: tuple[str, ...]
    literals: dict[str, Any]
    processors: tuple[_Processor, ...]
    returns_rows: bool

    def arguments(self, parameters: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for `parameters` (a KeyError names a missing one)."""
        values = {**self.literals, **parameters} if self.literals else parameters
        # A processor sees None too: a plain JSON column writes it as JSON `null`.
        return [
            value if convert is None else convert(value)
            for value, convert in zip(
                (values[name] for name in self.names), self.processors, strict=True
            )
        ]


@dataclass(frozen=True)
class _AsyncPool:
    """One event loop's async engine and its two session factories."""

    engine: AsyncEngine
    sessions: async_sessionmaker[Any]
    reads: async_sessionmaker[Any]
    autocommit: AsyncEngine
    # Bare asyncpg connections (asyncpg only): a checkout here costs a tenth of one
    # through SQLAlchemy's pool, which sets and resets autocommit on every checkout.
    raw: asyncpg.Pool | None
    # `fetch`'s and `write`'s statements compiled for the raw driver (asyncpg).
    compiled: dict[int, _Prepared] = field(default_factory=dict)

    def prepared(self, statement: Statement) -> _Prepared:
        """`statement` compiled for asyncpg, once (see `PREPARED_LIMIT`)."""
        found = self.compiled.get(id(statement))
        # The entry holds the statement, so its id cannot be reused while the entry lives.
        if found is None or found.statement is not statement:
            dialect = self.engine.dialect
            compiled = statement.compile(dialect=dialect)
            names = tuple(compiled.positiontup or ())
            binds = [compiled.binds[name] for name in names]
            found = _Prepared(
                statement=statement,
                sql=compiled.string,
                names=names,
                # Only the statement's literals: a bindparam() left without a value is the
                # caller's to give (a KeyError if not), never a silent NULL.
                literals={
                    name: compiled.params[name]
                    for name, bind in zip(names, binds, strict=True)
                    if not bind.required
                },
                processors=tuple(
                    bind.type.dialect_impl(dialect).bind_processor(dialect) for bind in binds
                ),
                returns_rows=isinstance(statement, (Select, CompoundSelect))
                or bool(getattr(compiled, "effective_returning", None)),
            )
            if len(self.compiled) < PREPARED_LIMIT:
                self.compiled[id(statement)] = found
        return found


async def _keep(_connection: asyncpg.Connection) -> None:
    """The raw pool's reset: none. Its connections only run `fetch`'s reads and `write`'s
    transactions (which asyncpg rolls back if left open); they set nothing, listen to
    nothing and lock nothing, so the default reset's round trip has nothing to undo."""


@asynccontextmanager
async def _driver(pool: _AsyncPool) -> AsyncIterator[Any]:
    """A bare asyncpg connection from the pool's raw pool, waiting at most
    `POOL_TIMEOUT` seconds for one (a timer, not the task asyncpg's own timeout makes);
    a value the database refuses to store is SQLAlchemy's `DataError` (a 400), as on
    SQLAlchemy's own connections."""
    raw = pool.raw
    assert raw is not None
    async with asyncio.timeout(POOL_TIMEOUT):
        driver = await raw.acquire()
    try:
        yield driver
    except asyncpg.exceptions.DataError as error:
        raise DataError(str(error), None, error) from error
    finally:
        await raw.release(driver)


async def _async_step(
    connection: AsyncConnection, statement: Statement, sets: Sequence[Mapping[str, Any]]
) -> Sequence[Sequence[Any]]:
    result = await connection.execute(statement, list(sets) if len(sets) != 1 else sets[0])
    return [tuple(r) for r in result] if result.returns_rows else []


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

    async def open_async(self) -> bool:
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
            pool_timeout=POOL_TIMEOUT,
            connect_args=connect_args,
        )
        # A read is one or two statements that need no transaction of their own: in
        # autocommit each is a single round trip, with no BEGIN and no COMMIT.
        reads = engine.execution_options(isolation_level="AUTOCOMMIT")
        raw = None
        if engine.dialect.driver == "asyncpg":
            _, connect = engine.dialect.create_connect_args(url)
            # min_size 0: no connection until the first request, so a database that is
            # down at start-up fails requests (and health checks), not the start.
            raw = await asyncpg.create_pool(
                **connect,
                **connect_args,
                min_size=0,
                max_size=ASYNC_POOL_SIZE,
                reset=_keep,
            )
        self._async[loop] = _AsyncPool(
            engine=engine,
            sessions=async_sessionmaker(engine, expire_on_commit=False),
            reads=async_sessionmaker(reads, expire_on_commit=False),
            autocommit=reads,
            raw=raw,
        )
        return True

    async def close_async(self) -> None:
        """Close the running event loop's async engine (at the API's shutdown)."""
        pool = self._async.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            if pool.raw is not None:
                await pool.raw.close()
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
        self, statement: Rows, parameters: Mapping[str, Any]
    ) -> Sequence[Sequence[Any]]:
        """The rows of one read `statement` (autocommit), as sequences of column values.

        On asyncpg the statement runs as a prepared statement on the driver's own
        connection, compiled once: a third of the CPU of the same read through
        SQLAlchemy's result machinery. Elsewhere it runs through `rows`. Parameters go
        through their types' bind processing, but the values read are the driver's, not
        the column types' (an asyncpg numeric is a Decimal, a JSON column its text): a
        statement run here selects as text what would differ (see `PUBLIC_COLUMNS`).
        """
        pool = self._async.get(asyncio.get_running_loop())
        if pool is None or pool.raw is None:
            return await self.rows(lambda c: [tuple(r) for r in c.execute(statement, parameters)])
        prepared = pool.prepared(statement)
        arguments = prepared.arguments(parameters)
        async with _driver(pool) as driver:
            rows: Sequence[Sequence[Any]] = await driver.fetch(prepared.sql, *arguments)
        return rows

    async def write(
        self, steps: Sequence[tuple[Statement, Sequence[Mapping[str, Any]]]]
    ) -> list[Sequence[Sequence[Any]]]:
        """Run each statement with each of its parameter sets, all in one transaction,
        and return the rows each step's RETURNING gave (empty for the others).

        On asyncpg the statements run prepared on the driver's own connection (as
        `fetch`'s do): the cheapest write there is. A unique or foreign key violation
        raises SQLAlchemy's `IntegrityError` on every driver, and nothing is written.
        """
        pool = self._async.get(asyncio.get_running_loop())
        if pool is None:
            return await run_in_threadpool(self._write_blocking, steps)
        if pool.raw is None:
            async with pool.engine.begin() as connection:
                return [await _async_step(connection, statement, sets) for statement, sets in steps]
        prepared = [(pool.prepared(statement), sets) for statement, sets in steps]
        results: list[Sequence[Sequence[Any]]] = []
        async with _driver(pool) as driver:
            try:
                if len(prepared) == 1 and len(prepared[0][1]) == 1:
                    # One statement is atomic by itself: no BEGIN and COMMIT round trips.
                    ((step, (values,)),) = prepared
                    return [await driver.fetch(step.sql, *step.arguments(values))]
                async with driver.transaction():
                    for step, sets in prepared:
                        if step.returns_rows or len(sets) == 1:
                            rows = []
                            for values in sets:
                                rows.extend(await driver.fetch(step.sql, *step.arguments(values)))
                            results.append(rows)
                        else:
                            await driver.executemany(
                                step.sql, [step.arguments(values) for values in sets]
                            )
                            results.append([])
            except IntegrityConstraintViolationError as error:
                raise IntegrityError(str(error), None, error) from error
        return results

    def _write_blocking(
        self, steps: Sequence[tuple[Statement, Sequence[Mapping[str, Any]]]]
    ) -> list[Sequence[Sequence[Any]]]:
        with self.engine.begin() as connection:
            results: list[Sequence[Sequence[Any]]] = []
            for statement, sets in steps:
                result = connection.execute(statement, list(sets) if len(sets) != 1 else sets[0])
                results.append([tuple(r) for r in result] if result.returns_rows else [])
            return results

    def _on_connection(self, work: Callable[[Connection], T]) -> T:
        with self.engine.connect() as connection:
            return work(connection)

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
