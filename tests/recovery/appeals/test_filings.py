"""A filing's writes: the case, its claims, its first event and its key land together or
not at all (one statement on PostgreSQL, one transaction elsewhere), and its one read
finds what the checks decide on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, IntegrityError

from recovery.access.keys import Role
from recovery.api.app import create_app
from recovery.api.context import AppContext
from recovery.appeals.filings import FilingFacts, read_facts, write_steps
from recovery.appeals.repository import CaseRepository, event_values
from recovery.db.engine import Database
from recovery.db.tables import (
    CaseEventRow,
    CaseRow,
    ClaimedTransferRow,
    DepositAddressRow,
    IdempotencyKeyRow,
)
from recovery.domain.case import NATIVE, Case, CaseType
from recovery.domain.states import CaseStatus
from tests.recovery.api.builders import DEPOSIT as API_DEPOSIT
from tests.recovery.api.builders import appeal_body

T = TypeVar("T")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TX = "0x" + "ab" * 32
DEPOSIT = "0x" + "11" * 20
REFUND = "0x" + "22" * 20
TOKEN = "0x" + "33" * 20


def on_the_apis_loop(
    database: Database, work: Callable[[], Awaitable[T]], *, pools: bool = True
) -> T:
    """`work()` in an event loop with the database's async pools open, as in the API;
    without `pools`, a loop that has none (the database works in a thread)."""

    async def main() -> T:
        opened = pools and await database.open_async()
        try:
            return await work()
        finally:
            if opened:
                await database.close_async()

    return asyncio.run(main())


def new_case(token: str = NATIVE, named: tuple[int, ...] | None = None) -> Case:
    case = Case(
        id=str(uuid.uuid4()),
        claimant="alice",
        case_type=CaseType.WRONG_NETWORK,
        network="bsc",
        opened_for="ethereum",
        tx_hash=TX,
        token=token,
        deposit_address=DEPOSIT,
        refund_address=REFUND,
        claimed_amount=10**18,
        status=CaseStatus.SUBMITTED,
        created_at=NOW,
        updated_at=NOW,
        verdict={"value": "12.5"},
        named_log_indexes=named,
    )
    case.log_indexes = case.filed_transfers()
    case.open(actor="user:alice", at=NOW)
    return case


def key_row(case: Case, key: str) -> dict[str, Any]:
    return {
        "owner": case.claimant,
        "key": key,
        "request_hash": "f" * 64,
        "case_id": case.id,
        "created_at": NOW,
    }


async def file(
    database: Database, case: Case, key: str | None, *, one_statement: bool = True
) -> int:
    events = [event_values(e) for e in case.pending_events]
    steps = write_steps(
        case,
        events,
        None if key is None else key_row(case, key),
        one_statement=one_statement and database.engine.dialect.name == "postgresql",
    )
    (((number,),), *_) = await database.write(steps)
    return int(number)


def counts(database: Database) -> dict[str, int]:
    with database.unit_of_work() as session:
        return {
            table.__tablename__: session.scalar(select(func.count()).select_from(table)) or 0
            for table in (CaseRow, ClaimedTransferRow, CaseEventRow, IdempotencyKeyRow)
        }


@pytest.mark.parametrize("one_statement", [True, False], ids=["one-statement", "steps"])
@pytest.mark.parametrize("pools", [True, False], ids=["async-pools", "thread"])
def test_a_filing_writes_its_case_claims_event_and_key(
    database: Database, pools: bool, one_statement: bool
) -> None:
    case = new_case(TOKEN, named=(1, 3))
    number = on_the_apis_loop(
        database, lambda: file(database, case, "k-1", one_statement=one_statement), pools=pools
    )
    assert counts(database) == {
        "cases": 1,
        "claimed_transfers": 2,
        "case_events": 1,
        "idempotency_keys": 1,
    }
    with database.unit_of_work() as session:
        stored = CaseRepository(session).get(case.id)
        claims = session.scalars(
            select(ClaimedTransferRow.log_index).order_by(ClaimedTransferRow.log_index)
        ).all()
        event = session.scalars(select(CaseEventRow)).one()
    assert stored is not None
    assert stored.number == number
    assert (stored.claimed_amount, stored.named_log_indexes, stored.verdict) == (
        10**18,
        (1, 3),
        {"value": "12.5"},
    )
    assert stored.facts is None
    assert stored.approvals == []
    assert claims == [1, 3]
    assert (event.to_status, event.reason_code, event.seq) == ("submitted", "filed", 1)


def test_a_filing_without_a_key_or_claims_writes_neither(database: Database) -> None:
    case = new_case(TOKEN)  # every transfer of a token: claimed once verified
    on_the_apis_loop(database, lambda: file(database, case, None))
    assert counts(database) == {
        "cases": 1,
        "claimed_transfers": 0,
        "case_events": 1,
        "idempotency_keys": 0,
    }


@pytest.mark.parametrize("one_statement", [True, False], ids=["one-statement", "steps"])
@pytest.mark.parametrize("pools", [True, False], ids=["async-pools", "thread"])
@pytest.mark.parametrize("clash", ["claim", "key"])
def test_a_filing_that_meets_a_unique_index_writes_nothing(
    database: Database, clash: str, pools: bool, one_statement: bool
) -> None:
    first = new_case()
    on_the_apis_loop(database, lambda: file(database, first, "k-1"))
    before = counts(database)
    # Another transfer (no claim clash) under the same key, or the same transfer anew.
    second = new_case() if clash == "claim" else new_case(TOKEN, named=(7,))

    async def second_filing() -> None:
        await file(
            database, second, "k-1" if clash == "key" else "k-2", one_statement=one_statement
        )

    with pytest.raises(IntegrityError):
        on_the_apis_loop(database, second_filing, pools=pools)
    assert counts(database) == before


def test_one_read_finds_the_key_the_addresses_the_live_cases_and_their_claims(
    database: Database,
) -> None:
    with database.unit_of_work() as session:
        session.add(
            DepositAddressRow(
                address=DEPOSIT,
                owner="alice",
                networks=["ethereum"],
                hd_index=1,
                created_by="admin:test",
                created_at=NOW,
            )
        )
    named = new_case(TOKEN, named=(4,))
    whole = new_case(TOKEN)

    async def work() -> FilingFacts:
        await file(database, named, "k-1")
        await file(database, whole, None)
        return await read_facts(
            database,
            owner="alice",
            key="k-1",
            network="bsc",
            tx_hash=TX,
            token=TOKEN,
            deposit_address=DEPOSIT,
            refund_address=REFUND,
        )

    facts = on_the_apis_loop(database, work)
    assert facts.remembered == ("f" * 64, named.id)
    assert [other.id for other, _ in facts.live] == [named.id, whole.id], "oldest first"
    assert set(facts.addresses) == {DEPOSIT}
    assert facts.addresses[DEPOSIT].networks == ["ethereum"]
    assert sorted((other.id, claims_all) for other, claims_all in facts.live) == sorted(
        [(named.id, False), (whole.id, True)]
    )
    assert [(other.id, index) for other, index in facts.held] == [(named.id, 4)]
    # A named log another case holds; any transfer of the token against the whole claim.
    holder, which = facts.holder(new_case(TOKEN, named=(4,))) or (None, "")
    assert holder is not None
    assert holder.id == whole.id
    assert which == f"the {TOKEN} sent to {DEPOSIT}"
    only_named = FilingFacts(None, {}, [live for live in facts.live if not live[1]], facts.held)
    holder, which = only_named.holder(new_case(TOKEN, named=(9, 4))) or (None, "")
    assert holder is not None
    assert (holder.id, which) == (named.id, "log 4")
    assert only_named.holder(new_case(TOKEN, named=(5,))) is None


def test_a_value_postgresql_cannot_store_is_a_data_error_on_the_bare_connection(
    database: Database,
) -> None:
    case = new_case()
    # An actor past the column's 128 characters.
    case.pending_events[0] = replace(case.pending_events[0], actor="user:" + "a" * 200)
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores text of any length")

    with pytest.raises(DataError):
        on_the_apis_loop(database, lambda: file(database, case, None))
    assert counts(database)["cases"] == 0


def test_a_subject_of_the_longest_length_files_and_is_named_in_its_events(
    context: AppContext, auth: Any
) -> None:
    subject = "s" * 128  # a key's subject may be this long; its actor is "user:" + it
    with TestClient(create_app(context)) as client:
        registered = client.post(
            "/v1/deposit-addresses",
            json={"address": API_DEPOSIT, "owner": subject, "networks": ["ethereum"]},
            headers=auth("o" * 128, Role.ADMIN),
        )
        assert registered.status_code == 201, registered.text
        owner = auth(subject)
        filed = client.post("/v1/appeals", json=appeal_body(), headers=owner)
        assert filed.status_code == 201, filed.text
        events = client.get(f"/v1/appeals/{filed.json()['id']}/events", headers=owner)
    assert events.json()["items"][0]["actor"] == f"user:{subject}"
