"""ORM rows of the case table: SQLModel `CaseRow` against a plain SQLAlchemy declarative copy.

    .venv/bin/python -m benchmarks.orm_rows [--rows 5000] [--rounds 5] [--database-url URL]

Both classes map the same `cases` table of one migrated database: a SQLite file in a temp
dir, or with `--database-url` a PostgreSQL schema made for the run and dropped after. In
each round, for each class in turn (alternating which goes first), it times:

- build: constructing `--rows` objects with keyword arguments (the fields of a new case);
- insert: `add_all` and commit of those objects in one session;
- read: selecting them back as mapped objects in a new session and reading every column.

Prints the median microseconds per row of each step and each class, and the ratio
SQLModel / declarative (above 1: SQLModel is slower). The table is emptied between runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, BigInteger, Engine, Integer, String, Text, delete, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from recovery.db.engine import make_engine
from recovery.db.migrate import upgrade
from recovery.db.tables import CaseRow
from recovery.db.types import Amount, UTCDateTime
from recovery.settings import Settings


class _Declarative(DeclarativeBase):
    """A metadata of its own: the copy below must not join SQLModel's."""


class DeclarativeCaseRow(_Declarative):
    """`CaseRow` as it was before SQLModel: the same columns, declared with `Mapped`."""

    __tablename__ = "cases"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    claimant: Mapped[str] = mapped_column(String(128))
    case_type: Mapped[str] = mapped_column(String(32))
    network: Mapped[str] = mapped_column(String(64))
    opened_for: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tx_hash: Mapped[str] = mapped_column(String(128))
    token: Mapped[str] = mapped_column(String(128))
    deposit_address: Mapped[str] = mapped_column(String(128))
    refund_address: Mapped[str] = mapped_column(String(128))
    claimed_amount: Mapped[int | None] = mapped_column(Amount(), nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=0)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    log_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    named_log_indexes: Mapped[list[int] | None] = mapped_column(
        JSON(none_as_null=True), nullable=True
    )
    log_indexes: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    verdict: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    value_micros: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    policy_version: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    check_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    quote_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    proof_nonce: Mapped[str | None] = mapped_column(String(64), nullable=True)
    proven_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reviewer: Mapped[str | None] = mapped_column(String(128), nullable=True)
    review_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    approvals: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    question: Mapped[str | None] = mapped_column(Text, nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)


CLASSES: dict[str, type[Any]] = {"declarative": DeclarativeCaseRow, "sqlmodel": CaseRow}
STEPS = ("build", "insert", "read")
COLUMNS = [c.key for c in DeclarativeCaseRow.__table__.columns]


def case_values(count: int) -> list[dict[str, Any]]:
    """`count` cases as keyword arguments: the columns `CaseRepository.add` writes."""
    now = datetime.now(UTC)
    values = []
    for n in range(count):
        at = now - timedelta(seconds=n)
        values.append(
            {
                "id": str(uuid.uuid4()),
                "claimant": f"user-{n % 97}",
                "case_type": "wrong_network",
                "network": "bsc",
                "opened_for": "ethereum",
                "tx_hash": "0x" + f"{n:064x}",
                "token": "native",
                "deposit_address": "0x" + f"{n % 1000:040x}",
                "refund_address": "0x" + f"{n % 997:040x}",
                "claimed_amount": 10**18 + n,
                "status": "confirming",
                "version": 2,
                "last_seq": 2,
                "facts": {"block_number": 1000 + n, "amount": str(10**18 + n), "log_index": -1},
                "verdict": None,
                "value_micros": None,
                "policy_version": "2026.11",
                "log_index": -1,
                "named_log_indexes": None,
                "log_indexes": [-1],
                "created_at": at,
                "updated_at": at,
                "next_check_at": at,
            }
        )
    return values


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def one_run(engine: Engine, cls: type[Any], values: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds of each step for `cls` over `values`, on an emptied table."""
    with Session(engine) as session, session.begin():
        session.execute(delete(cls))
    rows: list[Any] = []
    seconds = {"build": timed(lambda: rows.extend(cls(**v) for v in values))}

    def insert() -> None:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            session.add_all(rows)

    def read() -> None:
        with Session(engine) as session:
            loaded = session.scalars(select(cls).order_by(cls.number)).all()
            seen = [getattr(row, name) for row in loaded for name in COLUMNS]
        if len(seen) != len(values) * len(COLUMNS):
            raise SystemExit(f"read {len(seen)} values, expected {len(values) * len(COLUMNS)}")

    seconds["insert"] = timed(insert)
    seconds["read"] = timed(read)
    return seconds


@contextmanager
def database(url: str | None) -> Iterator[tuple[Engine, str]]:
    """A migrated database: a temp SQLite file, or a PostgreSQL schema dropped afterwards."""
    if url is None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "recovery.db"
            engine = make_engine(f"sqlite:///{path}")
            upgrade(engine)
            try:
                yield engine, f"SQLite file {path}"
            finally:
                engine.dispose()
        return
    base = Settings(database_url=url).database_url
    schema = f"bench_orm_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    joiner = "&" if "?" in base else "?"
    engine = make_engine(f"{base}{joiner}options=-csearch_path%3D{schema}")
    try:
        upgrade(engine)
        yield engine, f"PostgreSQL schema {schema} (dropped after)"
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="PostgreSQL; default SQLite")
    args = parser.parse_args(argv)

    values = case_values(args.rows)
    with database(args.database_url) as (engine, where):
        print(f"{args.rows} case rows, {args.rounds} rounds, {where}")
        # One untimed run each first: mappers configured, statements cached, pages warm.
        for cls in CLASSES.values():
            one_run(engine, cls, values[:200])
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in CLASSES}
        for round_ in range(args.rounds):
            order = list(CLASSES) if round_ % 2 == 0 else list(reversed(CLASSES))
            for name in order:
                runs[name].append(one_run(engine, CLASSES[name], values))

    print(f"{'µs per row':<12}{'declarative':>12}{'sqlmodel':>12}{'ratio':>8}")
    for step in STEPS:
        before, after = (
            statistics.median(run[step] for run in runs[name]) * 1e6 / args.rows for name in CLASSES
        )
        print(f"{step:<12}{before:>12.1f}{after:>12.1f}{after / before:>8.2f}")
    total_before, total_after = (
        statistics.median(sum(run.values()) for run in runs[name]) * 1e6 / args.rows
        for name in CLASSES
    )
    print(
        f"{'all three':<12}{total_before:>12.1f}{total_after:>12.1f}"
        f"{total_after / total_before:>8.2f}"
    )


if __name__ == "__main__":
    main()
