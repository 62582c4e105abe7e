"""What filing an appeal reads and writes: one statement to read, one transaction to write.

A filing decides on four facts: the request an Idempotency-Key already made, the deposit
and refund addresses in the registry, the live cases on the same transfer, and the live
claims on the same transaction. `read_facts` reads them in one statement (a UNION ALL of
tagged rows) through `Database.fetch`, so on asyncpg it is one prepared statement and one
round trip; `write_steps` are the inserts of the case, its claims, its first event and its
key, which `Database.write` runs in one transaction. Nothing read here guards a race: the
unique indexes do (a second live claim on a transfer, a second use of a key), and the
caller settles the `IntegrityError` they raise (see `service.settle_race`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    Integer,
    Text,
    bindparam,
    cast,
    func,
    insert,
    inspect,
    literal_column,
    null,
    select,
    union_all,
)

from recovery.appeals.claimed_transfers import INSERT_CLAIM, claim_values
from recovery.db.engine import Database, Statement
from recovery.db.tables import (
    CaseEventRow,
    CaseRow,
    ClaimedTransferRow,
    DepositAddressRow,
    IdempotencyKeyRow,
)
from recovery.domain.case import Case, reference_of
from recovery.domain.states import RELEASED_STATES

_KEYS = inspect(IdempotencyKeyRow).local_table
_ADDRESSES = inspect(DepositAddressRow).local_table
_CASES = inspect(CaseRow).local_table
_CLAIMS = inspect(ClaimedTransferRow).local_table
_EVENTS = inspect(CaseEventRow).local_table

_TEXT = cast(null(), Text)
_INT = cast(null(), Integer)
# Released states spelled into the SQL: a prepared statement takes no expanding list.
_LIVE = _CASES.c.status.not_in([literal_column(f"'{s.value}'") for s in RELEASED_STATES])


def _tag(kind: str) -> Any:
    return literal_column(f"'{kind}'", Text).label("kind")


# Each row: (kind, a, b, c, d, e); what a to e hold depends on the kind.
FACTS = union_all(
    # key: a request_hash, b case_id
    select(_tag("key"), _KEYS.c.request_hash, _KEYS.c.case_id, _TEXT, _INT, _INT).where(
        _KEYS.c.owner == bindparam("owner"), _KEYS.c.key == bindparam("key")
    ),
    # address: a address, b owner, c networks (JSON text)
    select(
        _tag("address"), _ADDRESSES.c.address, _ADDRESSES.c.owner,
        cast(_ADDRESSES.c.networks, Text), _INT, _INT,
    ).where(
        _ADDRESSES.c.address.in_([bindparam("deposit_address"), bindparam("refund_address")])
    ),
    # live: a id, b claimant, c named_log_indexes (JSON text), d number
    select(
        _tag("live"), _CASES.c.id, _CASES.c.claimant, cast(_CASES.c.named_log_indexes, Text),
        _CASES.c.number, _INT,
    ).where(
        _CASES.c.network == bindparam("network"),
        _CASES.c.tx_hash == bindparam("tx_hash"),
        _CASES.c.token == bindparam("token"),
        _CASES.c.deposit_address == bindparam("deposit_address"),
        _LIVE,
    ),
    # held: a case_id, b claimant, d number, e log_index
    select(
        _tag("held"), _CLAIMS.c.case_id, _CASES.c.claimant, _TEXT, _CASES.c.number,
        _CLAIMS.c.log_index,
    )
    .select_from(_CLAIMS.join(_CASES, _CASES.c.id == _CLAIMS.c.case_id))
    .where(
        _CLAIMS.c.network == bindparam("network"),
        _CLAIMS.c.tx_hash == bindparam("tx_hash"),
        _CLAIMS.c.deposit_address == bindparam("deposit_address"),
        _CLAIMS.c.released_at.is_(None),
    ),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class FiledCase:
    """Another case as a filing names it: who filed it and its number."""

    id: str
    claimant: str
    number: int | None

    @property
    def reference(self) -> str:
        """The human reference, e.g. `RC-000123`."""
        return reference_of(self.number)


class Registered(NamedTuple):
    """A deposit address in the registry: its owner and the networks it was opened for."""

    owner: str
    networks: list[str]


@dataclass(frozen=True)
class FilingFacts:
    """What the database knew when a filing looked (see the module)."""

    # The Idempotency-Key's earlier request: its body's hash and the case it made.
    remembered: tuple[str, str] | None
    addresses: dict[str, Registered]
    # Live cases on the same token to the same address in the same transaction, and
    # whether each claims every such transfer (no named logs).
    live: list[tuple[FiledCase, bool]]
    # Live claims on the transaction to the address: the holder and the log index.
    held: list[tuple[FiledCase, int]]

    def holder(self, case: Case) -> tuple[FiledCase, str] | None:
        """A live case that holds, or once verified will hold, a transfer `case` claims,
        and which transfer it is (see `CaseRepository.claim_holder`, the same rules)."""
        whole = case.named_log_indexes is None
        for other, claims_all in self.live:
            if other.id != case.id and (whole or claims_all):
                return other, f"the {case.token} sent to {case.deposit_address}"
        filed = set(case.filed_transfers())
        held = [(index, other) for other, index in self.held if index in filed]
        if held:
            index, other = min(held, key=lambda pair: pair[0])
            if other.id != case.id:
                return other, f"log {index}"
        return None


async def read_facts(
    database: Database,
    *,
    owner: str,
    key: str | None,
    network: str,
    tx_hash: str,
    token: str,
    deposit_address: str,
    refund_address: str,
) -> FilingFacts:
    """The facts a filing decides on, in one statement."""
    rows = await database.fetch(
        FACTS,
        {
            "owner": owner,
            "key": key,  # None matches no row: no key, nothing remembered
            "deposit_address": deposit_address,
            "refund_address": refund_address,
            "network": network,
            "tx_hash": tx_hash,
            "token": token,
        },
    )
    remembered = None
    addresses: dict[str, Registered] = {}
    live: list[tuple[FiledCase, bool]] = []
    held: list[tuple[FiledCase, int]] = []
    for kind, a, b, c, d, e in rows:
        if kind == "key":
            remembered = (a, b)
        elif kind == "address":
            addresses[a] = Registered(b, json.loads(c))
        elif kind == "live":
            live.append((FiledCase(a, b, d), c is None or json.loads(c) is None))
        else:
            held.append((FiledCase(a, b, d), e))
    # The oldest first, as the claim check reads them: a 409 names the same case each time.
    live.sort(key=lambda pair: pair[0].number or 0)
    return FilingFacts(remembered, addresses, live, held)


def _inserting(table: Any, keys: Sequence[str]) -> Statement:
    return insert(table).values({key: bindparam(key) for key in keys})


def case_values(case: Case) -> dict[str, Any]:
    """The column values of a new case's row (the rest keep their defaults)."""
    return {
        "id": case.id,
        "claimant": case.claimant,
        "case_type": case.case_type.value,
        "network": case.network,
        "opened_for": case.opened_for,
        "tx_hash": case.tx_hash,
        "token": case.token,
        "deposit_address": case.deposit_address,
        "refund_address": case.refund_address,
        "claimed_amount": case.claimed_amount,
        "status": case.status.value,
        "version": case.version,
        "last_seq": case.last_seq,
        "facts": case.facts,
        "verdict": case.verdict,
        "value_micros": case.value_micros,
        "policy_version": case.policy_version,
        "log_index": case.log_index,
        "named_log_indexes": (
            None if case.named_log_indexes is None else list(case.named_log_indexes)
        ),
        "log_indexes": list(case.log_indexes),
        "proven_by": case.proven_by,
        "priority": case.priority,
        "verification_code": case.verification_code,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "next_check_at": case.created_at,
    }


CASE_KEYS = (
    "id", "claimant", "case_type", "network", "opened_for", "tx_hash", "token",
    "deposit_address", "refund_address", "claimed_amount", "status", "version", "last_seq",
    "facts", "verdict", "value_micros", "policy_version", "log_index", "named_log_indexes",
    "log_indexes", "proven_by", "priority", "verification_code", "created_at", "updated_at",
    "next_check_at",
)  # fmt: skip
# Every new case's row is written by this statement (`CaseRepository.add` too).
INSERT_CASE = (
    insert(CaseRow).values({k: bindparam(k) for k in CASE_KEYS}).returning(_CASES.c.number)
)
# A case event's columns a filing gives; the event's case and time are the case's.
_EVENT_KEYS = (
    "seq", "from_status", "to_status", "actor", "reason_code", "detail", "message",
)  # fmt: skip
INSERT_EVENT = _inserting(_EVENTS, ("case_id", *_EVENT_KEYS, "created_at"))
INSERT_KEY = _inserting(_KEYS, ("owner", "key", "request_hash", "case_id", "created_at"))


def _filing_statement() -> Statement:
    """PostgreSQL's filing in one statement: the case, its claims (one per index of an
    array), its first event and its key (when given) in data-modifying CTEs. A unique
    violation in any of them fails the statement, and nothing is written.

    Every parameter is named `new_<column of cases>`, `event_<column>`, `key_<column>` or
    `claim_log_indexes`:
    a parameter named after a column of a table inserted into here (`id`, say) would be
    taken by SQLAlchemy, executing it, as a value for that table's column too."""

    def new(column: str) -> Any:
        return bindparam(f"new_{column}", type_=_CASES.c[column].type)

    new_case = (
        insert(CaseRow)
        .values({column: new(column) for column in CASE_KEYS})
        .returning(_CASES.c.number)
        .cte("new_case")
    )
    claims = insert(ClaimedTransferRow).from_select(
        ["case_id", "network", "tx_hash", "deposit_address", "log_index", "claimed_at"],
        select(
            new("id"),
            new("network"),
            new("tx_hash"),
            new("deposit_address"),
            func.unnest(bindparam("claim_log_indexes", type_=ARRAY(Integer))),
            new("updated_at"),
        ),
    )
    event = insert(CaseEventRow).values(
        case_id=new("id"),
        created_at=new("created_at"),
        **{name: bindparam(f"event_{name}") for name in _EVENT_KEYS},
    )
    key = insert(IdempotencyKeyRow).from_select(
        ["owner", "key", "request_hash", "case_id", "created_at"],
        select(
            new("claimant"),
            bindparam("key_key", type_=_KEYS.c.key.type),
            bindparam("key_request_hash", type_=_KEYS.c.request_hash.type),
            new("id"),
            new("created_at"),
        ).where(bindparam("key_key", type_=_KEYS.c.key.type).is_not(None)),
    )
    return select(new_case.c.number).add_cte(
        claims.cte("new_claims"), event.cte("new_event"), key.cte("new_key")
    )


FILE_CASE = _filing_statement()


def write_steps(
    case: Case,
    events: Sequence[Mapping[str, Any]],
    key: Mapping[str, Any] | None,
    *,
    one_statement: bool = False,
) -> list[tuple[Statement, Sequence[Mapping[str, Any]]]]:
    """The inserts of a new case (its number comes back), its claims, events and key.

    `one_statement` (PostgreSQL): all of them in `FILE_CASE`, for a case with its one
    first event (a filing's); one round trip instead of six.
    """
    claimed = sorted(set(case.held_transfers()))
    if one_statement and len(events) == 1:
        (event,) = events
        values = {
            **{f"new_{column}": value for column, value in case_values(case).items()},
            "claim_log_indexes": claimed,
            **{f"event_{name}": event[name] for name in _EVENT_KEYS},
            "key_key": None if key is None else key["key"],
            "key_request_hash": None if key is None else key["request_hash"],
        }
        return [(FILE_CASE, [values])]
    steps: list[tuple[Statement, Sequence[Mapping[str, Any]]]] = [
        (INSERT_CASE, [case_values(case)])
    ]
    claims = [claim_values(case, index) for index in claimed]
    if claims:
        steps.append((INSERT_CLAIM, claims))
    if events:
        steps.append((INSERT_EVENT, events))
    if key is not None:
        steps.append((INSERT_KEY, [key]))
    return steps
