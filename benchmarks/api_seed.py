"""The API benchmark's own PostgreSQL database: created fresh, migrated, seeded in bulk, dropped.

Owners get their API keys from the service's own `create_key` (so hashing stays the
service's) and one deposit address each, opened for ethereum. Cases go round the owners,
except that the first owner also gets every hundredth case: a busy user whose list has
pages at 10,000 cases as at a million. Cases are written by one
`INSERT ... SELECT FROM generate_series` per chunk, with their events and claimed
transfers in the same statement, so a million cases take a minute, not an hour. Column
lists come from the migrated schema: a column the service adds later with a default
needs no change here, and one without a default that this file does not know stops the
seeding with its name.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from eth_utils.address import to_checksum_address
from sqlalchemy import Engine, MetaData, create_engine, insert, text
from sqlalchemy.orm import Session

from recovery.access.keys import Role, create_key
from recovery.db.migrate import upgrade

SERVER = "postgresql://postgres@127.0.0.1:5432"
# Databases this benchmark never creates, drops or writes (the test suite's among them).
PROTECTED = frozenset({"test", "postgres", "template0", "template1"})
OPENED_FOR = "ethereum"
AMOUNT = 10**18
# Where the seeded cases' transfers went (network, share in percent, native symbol).
NETWORKS: tuple[tuple[str, int, str], ...] = (
    ("bsc", 35, "BNB"),
    ("polygon", 20, "POL"),
    ("arbitrum", 10, "ETH"),
    ("base", 10, "ETH"),
    ("optimism", 10, "ETH"),
    ("avalanche", 10, "AVAX"),
    ("gnosis", 5, "XDAI"),
)
# A desk's steady state: most cases settled, a few percent waiting at each step.
STATUSES: tuple[tuple[str, int], ...] = (
    ("paid", 50),
    ("rejected", 12),
    ("cancelled", 5),
    ("expired", 5),
    ("in_review", 5),
    ("quoted", 6),
    ("confirming", 3),
    ("verifying", 3),
    ("submitted", 3),
    ("needs_info", 2),
    ("approved", 2),
    ("payout_pending", 2),
    ("payout_sent", 2),
)
# The table the ceiling app files into: `cases`' columns and indexes, none of its rows.
CEILING_TABLE = "CREATE TABLE ceiling_cases (LIKE cases INCLUDING ALL)"
RELEASED = frozenset({"rejected", "cancelled", "expired"})
REVIEWER = "rita"
QUESTION = "Please send a screenshot of the withdrawal page that shows the transaction."

# (from, to, actor, reason_code, detail) of each step; {user} and {network} filled in SQL.
_FILED = (None, "submitted", "user", "filed", "appeal filed")
_LOOKED_UP = ("submitted", "verifying", "system:verifier", None, "looking transaction up")
_FOUND = ("verifying", "confirming", "system:verifier", None, "found 1 coin from the sender")
_QUOTED = ("confirming", "quoted", "system:verifier", None, "confirmed; quote issued")
_ACCEPTED = ("quoted", "in_review", "user", "quote_accepted", "quote accepted")
_APPROVED = ("in_review", "approved", f"reviewer:{REVIEWER}", None, "approved")
_FROZEN = ("approved", "payout_pending", "system:payouts", None, "payout frozen")
_SENT = ("payout_pending", "payout_sent", "system:payouts", None, "payout broadcast")
_PATHS: dict[str, tuple[tuple[str | None, str, str, str | None, str], ...]] = {
    "submitted": (_FILED,),
    "verifying": (_FILED, _LOOKED_UP),
    "confirming": (_FILED, _LOOKED_UP, _FOUND),
    "quoted": (_FILED, _LOOKED_UP, _FOUND, _QUOTED),
    "in_review": (_FILED, _LOOKED_UP, _FOUND, _QUOTED, _ACCEPTED),
    "needs_info": (
        *(_FILED, _LOOKED_UP, _FOUND, _QUOTED, _ACCEPTED),
        ("in_review", "needs_info", f"reviewer:{REVIEWER}", None, QUESTION),
    ),
    "approved": (_FILED, _LOOKED_UP, _FOUND, _QUOTED, _ACCEPTED, _APPROVED),
    "payout_pending": (_FILED, _LOOKED_UP, _FOUND, _QUOTED, _ACCEPTED, _APPROVED, _FROZEN),
    "payout_sent": (_FILED, _LOOKED_UP, _FOUND, _QUOTED, _ACCEPTED, _APPROVED, _FROZEN, _SENT),
    "paid": (
        *(_FILED, _LOOKED_UP, _FOUND, _QUOTED, _ACCEPTED, _APPROVED, _FROZEN, _SENT),
        ("payout_sent", "paid", "system:payouts", None, "delivered 0.94 coin"),
    ),
    "rejected": (
        _FILED,
        _LOOKED_UP,
        ("verifying", "rejected", "system:verifier", "tx_not_found", "transaction not found"),
    ),
    "cancelled": (
        *(_FILED, _LOOKED_UP, _FOUND, _QUOTED),
        ("quoted", "cancelled", "user", "cancelled_by_user", "withdrawn by the claimant"),
    ),
    "expired": (
        *(_FILED, _LOOKED_UP, _FOUND, _QUOTED),
        ("quoted", "expired", "system:expiry", "quote_expired", "the quote expired"),
    ),
}
_FOUND_ON_CHAIN = frozenset(s for s, path in _PATHS.items() if _FOUND in path)
_QUOTED_ONCE = frozenset(s for s, path in _PATHS.items() if _QUOTED in path)
_APPROVED_ONCE = frozenset(s for s, path in _PATHS.items() if _APPROVED in path)
_WATCHED = frozenset({"submitted", "verifying", "confirming"})


@dataclass(frozen=True)
class Owner:
    """A user of the benchmark: their key, their deposit address and where refunds go."""

    subject: str
    key: str
    deposit_address: str
    refund_address: str


def _address(seed: str) -> str:
    return str(to_checksum_address("0x" + hashlib.sha256(seed.encode()).hexdigest()[:40]))


class BenchDatabase:
    """A database of the benchmark's own on the local server; never one in PROTECTED."""

    def __init__(self, name: str, server: str = SERVER) -> None:
        if name in PROTECTED:
            raise SystemExit(f"refusing to use database {name!r}: it is not the benchmark's")
        self.name = name
        self.server = server.rstrip("/")
        self.url = f"{self.server}/{name}"
        self.engine: Engine | None = None

    @property
    def sqlalchemy_url(self) -> str:
        """The same database for SQLAlchemy with the psycopg 3 driver."""
        return "postgresql+psycopg://" + self.url.split("://", 1)[1]

    def _admin(self, statement: str) -> None:
        with psycopg.connect(f"{self.server}/postgres", autocommit=True) as connection:
            connection.execute(statement)  # type: ignore[arg-type]

    def create(self) -> Engine:
        """Drop a leftover database of this name, create it anew and migrate it."""
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{self.name}"')
        self.engine = create_engine(self.sqlalchemy_url, pool_size=2, max_overflow=0)
        upgrade(self.engine)
        return self.engine

    def drop(self) -> None:
        """Drop the database, ending any connection still open to it."""
        if self.engine is not None:
            self.engine.dispose()
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _table(engine: Engine, name: str) -> Any:
    metadata = MetaData()
    metadata.reflect(engine, only=[name])
    return metadata.tables[name]


def seed_people(engine: Engine, owners: int) -> tuple[list[Owner], str]:
    """`owners` users with a key and a deposit address each, and a reviewer's key."""
    now = datetime.now(UTC)
    people: list[Owner] = []
    with Session(engine) as session, session.begin():
        for i in range(owners):
            subject = f"owner-{i:05d}"
            key = create_key(session, role=Role.USER, subject=subject, now=now)
            people.append(Owner(subject, key, _address(f"deposit-{i}"), _address(f"refund-{i}")))
        reviewer = create_key(session, role=Role.REVIEWER, subject=REVIEWER, now=now)
    addresses = _table(engine, "deposit_addresses")
    rows = [
        {
            "address": owner.deposit_address,
            "owner": owner.subject,
            "networks": [OPENED_FOR],
            "hd_index": 1000 + i,
            "created_by": "admin:benchmark",
            "created_at": now,
        }
        for i, owner in enumerate(people)
    ]
    with engine.begin() as connection:
        connection.execute(insert(addresses), [_known(addresses, r) for r in rows])
    return people, reviewer


def _known(table: Any, row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k in table.c}


def appeal_body(owner: Owner, network: str, tx_hash: str) -> dict[str, Any]:
    """A valid wrong-network appeal of `owner` for 1 native coin sent over `network`."""
    return {
        "case_type": "wrong_network",
        "network": network,
        "opened_for": OPENED_FOR,
        "tx_hash": tx_hash,
        "token": "native",
        "deposit_address": owner.deposit_address,
        "refund_address": owner.refund_address,
        "claimed_amount": str(AMOUNT),
    }


def write_helpers(
    engine: Engine, owners: Sequence[Owner], verdicts: dict[str, dict[str, Any]]
) -> None:
    """The lookup tables the seeding statement joins: owners, networks, states, paths."""
    statements = [
        "CREATE TABLE bench_owners (idx int PRIMARY KEY, subject text, address text, refund text)",
        "CREATE TABLE bench_networks (lo int, hi int, network text, symbol text, verdict text)",
        "CREATE TABLE bench_statuses (lo int, hi int, status text, steps int)",
        "CREATE TABLE bench_paths (status text, seq int, from_status text, to_status text, "
        "actor text, reason_code text, detail text)",
    ]
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
        connection.execute(
            text("INSERT INTO bench_owners VALUES (:i, :s, :a, :r)"),
            [
                {"i": i, "s": o.subject, "a": o.deposit_address, "r": o.refund_address}
                for i, o in enumerate(owners)
            ],
        )
        lo, rows = 0, []
        for network, share, symbol in NETWORKS:
            rows.append(
                {
                    "lo": lo,
                    "hi": lo + share,
                    "n": network,
                    "s": symbol,
                    "v": json.dumps(verdicts[network]),
                }
            )
            lo += share
        connection.execute(text("INSERT INTO bench_networks VALUES (:lo, :hi, :n, :s, :v)"), rows)
        lo, rows = 0, []
        for status, share in STATUSES:
            rows.append({"lo": lo, "hi": lo + share, "s": status, "n": len(_PATHS[status])})
            lo += share
        connection.execute(text("INSERT INTO bench_statuses VALUES (:lo, :hi, :s, :n)"), rows)
        connection.execute(
            text("INSERT INTO bench_paths VALUES (:st, :seq, :f, :t, :a, :r, :d)"),
            [
                {"st": status, "seq": seq, "f": f, "t": t, "a": a, "r": r, "d": d}
                for status, path in _PATHS.items()
                for seq, (f, t, a, r, d) in enumerate(path, 1)
            ],
        )


def _sql_set(values: frozenset[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in sorted(values)) + ")"


def _case_columns() -> dict[str, str]:
    """SQL for each `cases` column, over g (series), o (owner), n (network), s (status)."""
    found, quoted, approved = (
        _sql_set(_FOUND_ON_CHAIN),
        _sql_set(_QUOTED_ONCE),
        _sql_set(_APPROVED_ONCE),
    )
    facts = f"""CASE WHEN s.status IN {found} THEN json_build_object(
        'token', 'native', 'log_token', NULL, 'symbol', n.symbol, 'decimals', 18,
        'amount', '{AMOUNT}', 'sender', o.refund, 'log_index', -1,
        'log_indexes', json_build_array(-1),
        'transfers', json_build_array(json_build_object('log_index', -1, 'amount', '{AMOUNT}')),
        'internal_transfer', false, 'block_number', 40000000 + g,
        'block_hash', '0x' || md5('block' || g) || md5('hash' || g),
        'deposit_address_is_contract', false, 'deposit_address_code', NULL,
        'deposit_address_delegate', NULL, 'refund_address_is_contract', false,
        'confirmations', 20,
        'checked_at', to_char((:base + g * :step) AT TIME ZONE 'UTC',
                              'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')) END"""
    created = "(:base + g * :step)"
    updated = f"({created} + s.steps * interval '20 minutes')"
    return {
        "id": "md5('bench-case-' || g)::uuid::text",
        "claimant": "o.subject",
        "case_type": "'wrong_network'",
        "network": "n.network",
        "opened_for": f"'{OPENED_FOR}'",
        "tx_hash": "'0x' || lpad(to_hex(g), 64, '0')",
        "token": "'native'",
        "deposit_address": "o.address",
        "refund_address": "o.refund",
        "claimed_amount": str(AMOUNT),
        "status": "s.status",
        "version": "s.steps",
        "last_seq": "s.steps",
        "log_index": "-1",
        "named_log_indexes": "NULL",
        "log_indexes": "'[-1]'::json",
        "facts": facts,
        "verdict": "n.verdict::json",
        "policy_version": "n.verdict::json ->> 'policy_version'",
        "created_at": created,
        "updated_at": updated,
        "next_check_at": f"CASE WHEN s.status IN {_sql_set(_WATCHED)} THEN {updated} END",
        "lease_owner": "NULL",
        "lease_until": "NULL",
        "check_note": "NULL",
        "quote_id": f"CASE WHEN s.status IN {quoted} THEN 'q_' || md5('quote' || g) END",
        "deadline_at": (
            f"CASE WHEN s.status IN ('quoted', 'needs_info') THEN {updated} + interval '7 days' END"
        ),
        "proof_nonce": "NULL",
        "proven_by": "NULL",
        "reviewer": f"CASE WHEN s.status IN {approved} THEN '{REVIEWER}' END",
        "review_claimed_at": "NULL",
        "approvals": (
            f"CASE WHEN s.status IN {approved} THEN '[\"reviewer:{REVIEWER}\"]'::json END"
        ),
        "question": f"CASE WHEN s.status = 'needs_info' THEN '{QUESTION}' END",
        "answer": "NULL",
    }


def _required(engine: Engine, table: str) -> set[str]:
    """Columns of `table` that need a value: NOT NULL, no default, not an identity."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
                "AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'"
            ),
            {"t": table},
        )
        return {r[0] for r in rows}


def _seed_statement(engine: Engine) -> str:
    tables = {name: _table(engine, name) for name in ("cases", "case_events", "claimed_transfers")}
    wanted = _case_columns()
    columns = {k: v for k, v in wanted.items() if k in tables["cases"].c}
    missing = _required(engine, "cases") - set(columns)
    if missing:
        raise SystemExit(
            f"benchmarks/api_seed.py does not know the cases column(s) {sorted(missing)}: "
            "add them to _case_columns()"
        )
    events = {
        "case_id": "c.id",
        "seq": "p.seq",
        "from_status": "p.from_status",
        "to_status": "p.to_status",
        "actor": "CASE p.actor WHEN 'user' THEN 'user:' || c.claimant ELSE p.actor END",
        "reason_code": "p.reason_code",
        "detail": "p.detail",
        "message": "CASE WHEN p.to_status = 'needs_info' THEN p.detail END",
        "created_at": "c.created_at + (p.seq - 1) * interval '20 minutes'",
    }
    claims = {
        "case_id": "c.id",
        "network": "c.network",
        "tx_hash": "c.tx_hash",
        "deposit_address": "c.deposit_address",
        "log_index": "-1",
        "claimed_at": "c.created_at",
        "released_at": f"CASE WHEN c.status IN {_sql_set(RELEASED)} THEN c.updated_at END",
    }
    for name, mapping in (("case_events", events), ("claimed_transfers", claims)):
        for column in [c for c in mapping if c not in tables[name].c]:
            del mapping[column]
        missing = _required(engine, name) - set(mapping)
        if missing:
            raise SystemExit(f"benchmarks/api_seed.py does not fill {name}.{sorted(missing)}")
    return f"""
        WITH new AS (
            INSERT INTO cases ({", ".join(columns)})
            SELECT {", ".join(columns.values())}
            FROM (
                SELECT g, abs(hashtext('network' || g)::bigint) % 100 AS nb,
                       abs(hashtext('status' || g)::bigint) % 100 AS sb
                FROM generate_series(CAST(:start AS bigint), CAST(:stop AS bigint) - 1) AS g
            ) AS x
            JOIN bench_owners o ON o.idx = CASE WHEN x.g % 100 = 0 THEN 0 ELSE x.g % :owners END
            JOIN bench_networks n ON n.lo <= x.nb AND x.nb < n.hi
            JOIN bench_statuses s ON s.lo <= x.sb AND x.sb < s.hi
            RETURNING id, claimant, status, network, tx_hash, deposit_address, created_at,
                      updated_at
        ), events AS (
            INSERT INTO case_events ({", ".join(events)})
            SELECT {", ".join(events.values())}
            FROM new c JOIN bench_paths p ON p.status = c.status
        )
        INSERT INTO claimed_transfers ({", ".join(claims)})
        SELECT {", ".join(claims.values())} FROM new c
    """


class CaseSeeder:
    """Adds seeded cases up to a total, in chunks; the same series continues each time."""

    CHUNK = 100_000

    def __init__(self, engine: Engine, owners: int, *, horizon: int) -> None:
        self.engine = engine
        self.owners = owners
        self.seeded = 0
        self._statement = text(_seed_statement(engine))
        # Cases are spread evenly over the last year, the series' end reaching today.
        self._step = timedelta(days=365) / max(horizon, 1)
        self._base = datetime.now(UTC) - timedelta(days=366)

    def grow(self, total: int, say: Callable[[str], None] = print) -> None:
        """Seed cases until `total` of them are seeded; vacuum and analyse afterwards."""
        if total <= self.seeded:
            return
        started = time.perf_counter()
        while self.seeded < total:
            stop = min(total, self.seeded + self.CHUNK)
            with self.engine.begin() as connection:
                connection.execute(
                    self._statement,
                    {
                        "start": self.seeded,
                        "stop": stop,
                        "owners": self.owners,
                        "base": self._base,
                        "step": self._step,
                    },
                )
            self.seeded = stop
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE"))
        say(f"seeded {total:,} cases in {time.perf_counter() - started:.1f}s")


def run_nonce() -> str:
    """A run nonce for distinct transaction hashes: 8 hex digits, never all zero."""
    return f"{secrets.randbelow(0xEFFFFFFF) + 0x10000000:08x}"
