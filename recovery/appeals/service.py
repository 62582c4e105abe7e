"""Filing, reading, listing and withdrawing appeals. Services never commit."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from policies import Policy
from recovery.access.case_rules import CaseAction, CaseIdentity, ClaimantOnly, authorize
from recovery.access.keys import Principal, Role
from recovery.appeals import formats, transition_log
from recovery.appeals.errors import (
    AddressNotClaimants,
    AppealRefused,
    CaseNotFound,
    DuplicateClaim,
    IdempotencyKeyReused,
    NotOurDepositAddress,
)
from recovery.appeals.filings import FiledCase, Registered, read_facts, write_steps
from recovery.appeals.refund_addresses import check_refund_address
from recovery.appeals.repository import (
    CaseReads,
    CaseRepository,
    IdempotencyRepository,
    PublicCaseReads,
    event_values,
)
from recovery.appeals.schemas import AppealCreate, public_view
from recovery.appeals.verdicts import (
    STATIC_REFUSALS,
    asks_chain_for_decimals,
    judge,
    verdict_dict,
)
from recovery.db.engine import Database
from recovery.deposit_addresses.service import known_network
from recovery.domain.case import NATIVE, Case, CaseEvent, CaseType
from recovery.domain.states import CaseStatus
from recovery.errors import InvalidInput

PAGE_LIMIT_MAX = 100
# Verification codes: 10 characters of an alphabet without look-alikes (no 0/O, 1/I/L).
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_verification_code() -> str:
    """A fresh random verification code (about 49 bits), e.g. `K7M2Q9XHRT`."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))


@dataclass(frozen=True)
class Filing:
    """The outcome of filing: the case, and whether an earlier request already made it."""

    case: Case
    replayed: bool


def _request_hash(appeal: AppealCreate) -> str:
    canonical = json.dumps(appeal.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def normalise(policy: Policy, appeal: AppealCreate) -> AppealCreate:
    """The appeal with known networks and well-formed, normalised addresses and hash."""
    network = known_network(policy, appeal.network, "network")
    family = policy.networks[network].family
    opened_for: str | None = None
    if appeal.case_type == CaseType.WRONG_NETWORK.value:
        if appeal.opened_for is None:
            raise InvalidInput(
                "opened_for: a wrong_network appeal must name the network the deposit "
                "address was opened for"
            )
        opened_for = known_network(policy, appeal.opened_for, "opened_for")
        if opened_for == network:
            raise InvalidInput(
                f"opened_for: the transfer went over {network}, the network the address was "
                "opened for; that is not a wrong-network case (file unlisted_token if the "
                "token is not listed)"
            )
    elif appeal.opened_for is not None:
        raise InvalidInput(
            "opened_for: an unlisted_token appeal is about the network the address was opened "
            "for, which network names; leave opened_for out (or null)"
        )
    token = appeal.token
    token = NATIVE if token == NATIVE else formats.address(family, token, "token")
    if appeal.claimed_amount is not None and int(appeal.claimed_amount) == 0:
        raise InvalidInput("claimed_amount: must be greater than zero (base units)")
    log_indexes = appeal.log_indexes
    if log_indexes is not None:
        if token == NATIVE:
            raise InvalidInput(
                "log_indexes: native value has no Transfer log; leave log_indexes out (a "
                "native claim covers all the native coin the transaction moved to the address)"
            )
        repeated = sorted({i for i in log_indexes if log_indexes.count(i) > 1})
        if repeated:
            raise InvalidInput(
                f"log_indexes: {', '.join(map(str, repeated))} named more than once; name "
                "each Transfer log once"
            )
        log_indexes = sorted(log_indexes)
    return appeal.model_copy(
        update={
            "network": network,
            "opened_for": opened_for,
            "tx_hash": formats.tx_hash(family, appeal.tx_hash, "tx_hash"),
            "token": token,
            "deposit_address": formats.address(family, appeal.deposit_address, "deposit_address"),
            "refund_address": formats.address(family, appeal.refund_address, "refund_address"),
            "log_indexes": log_indexes,
        }
    )


def _check_deposit_address(
    registered: Registered | None, claimant: str, appeal: AppealCreate
) -> None:
    if registered is None or registered.owner != claimant:
        raise AddressNotClaimants(
            f"deposit_address: you have no deposit address {appeal.deposit_address}; name "
            "the address the exchange gave you (GET /v1/deposit-addresses lists yours)"
        )
    opened_on = ", ".join(registered.networks)
    if appeal.case_type == CaseType.WRONG_NETWORK.value:
        assert appeal.opened_for is not None
        if appeal.opened_for not in registered.networks:
            raise NotOurDepositAddress(
                f"opened_for: deposit address {appeal.deposit_address} was not opened for "
                f"{appeal.opened_for}; it was opened for: {opened_on}"
            )
        if appeal.network in registered.networks:
            raise InvalidInput(
                f"network: deposit address {appeal.deposit_address} is also opened for "
                f"{appeal.network}, so this is not a wrong-network transfer; if the token is "
                "not listed there, file an unlisted_token appeal"
            )
    elif appeal.network not in registered.networks:
        raise NotOurDepositAddress(
            f"network: deposit address {appeal.deposit_address} was not opened for "
            f"{appeal.network}; it was opened for: {opened_on}. If the transfer went over "
            f"{appeal.network} by mistake, file a wrong_network appeal"
        )


async def file_appeal(
    database: Database,
    policy: Policy,
    principal: Principal,
    appeal: AppealCreate,
    *,
    idempotency_key: str | None,
    now: datetime,
    token_decimals: Callable[[str, str], Awaitable[int | None]] | None = None,
    service_addresses: Collection[str] = (),
    proven_by: str | None = None,
) -> Filing:
    """File a case for the caller; the same Idempotency-Key and body give the same case.

    One read of what the database knows (`filings.read_facts`), the checks and the
    verdict in memory, one transaction of inserts (one statement on PostgreSQL).
    `token_decimals` asks an unlisted token's chain for its decimals, only when the
    verdict needs them. `service_addresses` are the service's own wallets this process
    knows (the gas wallet): a refund to them, to a deposit address or to the token's
    contract is refused. `proven_by`: the sender whose signature the caller already showed
    (a found deposit's claim).
    """
    if principal.role != Role.USER:
        raise ClaimantOnly(
            f"an appeal is filed by the deposit address's owner with their user key; your key "
            f"has the {principal.role} role"
        )
    appeal = normalise(policy, appeal)
    request_hash = _request_hash(appeal)
    facts = await read_facts(
        database,
        owner=principal.subject,
        key=idempotency_key,
        network=appeal.network,
        tx_hash=appeal.tx_hash,
        token=appeal.token,
        deposit_address=appeal.deposit_address,
        refund_address=appeal.refund_address,
    )
    if idempotency_key is not None and facts.remembered is not None:
        return await _replayed(database, idempotency_key, request_hash, *facts.remembered)
    _check_deposit_address(facts.addresses.get(appeal.deposit_address), principal.subject, appeal)
    check_refund_address(
        None,
        appeal.refund_address,
        tokens=() if appeal.token == NATIVE else (appeal.token,),
        service_addresses=service_addresses,
        is_deposit_address=appeal.refund_address in facts.addresses,
    )
    decimals = None
    if token_decimals is not None and asks_chain_for_decimals(policy, appeal):
        decimals = await token_decimals(appeal.network, appeal.token)
    verdict = judge(policy, appeal, now=now, token_decimals=lambda _network, _token: decimals)
    refusals = [code for code in verdict.reason_codes if code in STATIC_REFUSALS]
    if refusals:
        raise AppealRefused(verdict.summary, reason_code=refusals[0])
    case = Case(
        id=str(uuid.uuid4()),
        claimant=principal.subject,
        case_type=CaseType(appeal.case_type),
        network=appeal.network,
        opened_for=appeal.opened_for,
        tx_hash=appeal.tx_hash,
        token=appeal.token,
        deposit_address=appeal.deposit_address,
        refund_address=appeal.refund_address,
        claimed_amount=None if appeal.claimed_amount is None else int(appeal.claimed_amount),
        status=CaseStatus.SUBMITTED,
        created_at=now,
        updated_at=now,
        verdict=verdict_dict(verdict) if appeal.claimed_amount is not None else None,
        policy_version=policy.version,
        named_log_indexes=None if appeal.log_indexes is None else tuple(appeal.log_indexes),
        proven_by=proven_by,
        verification_code=new_verification_code(),
    )
    case.log_indexes = case.filed_transfers()
    holder = facts.holder(case)
    if holder is not None:
        raise _duplicate(appeal, *holder, principal.subject)
    case.open(actor=principal.actor, at=now)
    key = None
    if idempotency_key is not None:
        key = {
            "owner": principal.subject,
            "key": idempotency_key,
            "request_hash": request_hash,
            "case_id": case.id,
            "created_at": now,
        }
    events = [event_values(e) for e in case.pending_events]
    try:
        one_statement = database.engine.dialect.name == "postgresql"
        steps = write_steps(case, events, key, one_statement=one_statement)
        (((case.number,),), *_) = await database.write(steps)
    except IntegrityError as error:
        # A concurrent request won the race: either with the same Idempotency-Key or for
        # the same transfer. Nothing was written; `settle_race` tells which.
        raise FilingRaced(case, appeal, request_hash, error) from None
    transition_log.committed([case])
    case.pending_events.clear()
    return Filing(case, replayed=False)


async def _replayed(
    database: Database, idempotency_key: str, request_hash: str, remembered: str, case_id: str
) -> Filing:
    if remembered != request_hash:
        raise _key_reused(idempotency_key)
    case = await database.read(lambda session: CaseReads(session).get(case_id))
    assert case is not None, "an idempotency key names a case that is not there"
    return Filing(case, replayed=True)


class FilingRaced(Exception):
    """Raised when a filing's insert met a unique index a concurrent filing took first."""

    def __init__(
        self, case: Case, appeal: AppealCreate, request_hash: str, error: IntegrityError
    ) -> None:
        super().__init__(f"filing of case {case.id} met a concurrent claim: {error}")
        self.case = case
        self.appeal = appeal
        self.request_hash = request_hash
        self.error = error


def settle_race(
    session: Session, *, principal: Principal, race: FilingRaced, key: str | None
) -> Filing:
    """After `FilingRaced`, in a new transaction: the other filing's case if it was this
    key's (a replay), else the 409 for the transfer it holds."""
    cases = CaseRepository(session)
    keys = IdempotencyRepository(session)
    try:
        return _already_claimed(
            cases, keys, principal, race.appeal, race.case, key, race.request_hash
        )
    except LookupError:
        raise race.error from None


def _already_claimed(
    cases: CaseRepository,
    keys: IdempotencyRepository,
    principal: Principal,
    appeal: AppealCreate,
    case: Case,
    idempotency_key: str | None,
    request_hash: str,
) -> Filing:
    """The filing that met an existing claim: a replay if the claim is this key's, else a 409.

    The key is looked at again because an identical request racing this one may have
    committed the case and its key between this request's first look and now.
    Raises LookupError when neither the key nor a live claim is there after all.
    """
    if idempotency_key is not None:
        replay = _replay(cases, keys, principal.subject, idempotency_key, request_hash)
        if replay is not None:
            return Filing(replay, replayed=True)
    holder = cases.claim_holder(case)
    if holder is None:
        raise LookupError("no claim holds this transfer")
    raise _duplicate(appeal, *holder, principal.subject)


def _duplicate(
    appeal: AppealCreate, holder: CaseIdentity, which: str, subject: str
) -> DuplicateClaim:
    # Name the other case only to its own claimant; never reveal someone else's.
    whose = f" by your case {holder.reference}" if holder.claimant == subject else ""
    hint = (
        "; name the other Transfer logs you claim in log_indexes" if appeal.token != NATIVE else ""
    )
    return DuplicateClaim(
        f"transfer {appeal.tx_hash} on {appeal.network} (token {appeal.token}, deposit address "
        f"{appeal.deposit_address}): {which} is already claimed{whose}; one transfer backs one "
        f"live case{hint}"
    )


def _replay(
    cases: CaseRepository,
    keys: IdempotencyRepository,
    owner: str,
    idempotency_key: str,
    request_hash: str,
) -> Case | None:
    remembered = keys.find(owner, idempotency_key)
    if remembered is None:
        return None
    if remembered.request_hash != request_hash:
        raise _key_reused(idempotency_key)
    return cases.get(remembered.case_id)


def _key_reused(idempotency_key: str) -> IdempotencyKeyReused:
    return IdempotencyKeyReused(
        f"Idempotency-Key {idempotency_key!r} was already used with a different body; "
        "use a new key for a new appeal"
    )


def get_case(
    session: Session | Connection,
    principal: Principal,
    case_id: str,
    action: CaseAction = CaseAction.READ,
) -> Case:
    """The case if the caller may do `action` to it (see `access.case_rules`).

    Someone else's case is not found for a user; a role the action is not for gets a 403.
    """
    case = CaseReads(session).get(case_id)
    if case is None:
        raise CaseNotFound(f"no case {case_id} among yours")
    authorize(principal, action, case)
    return case


async def public_case(reads: PublicCaseReads, principal: Principal, case_id: str) -> dict[str, Any]:
    """The public view (`public_view`) of a case the caller may read: `get_case`'s rules,
    on the cheapest read."""
    row = await reads.one(case_id)
    if row is None:
        raise CaseNotFound(f"no case {case_id} among yours")
    authorize(principal, CaseAction.READ, FiledCase(row["id"], row["claimant"], row["number"]))
    return public_view(row)


def events(session: Session, principal: Principal, case_id: str) -> list[CaseEvent]:
    """The events of a case the caller may see, oldest first."""
    case = get_case(session, principal, case_id)
    return CaseRepository(session).events(case.id)


# A cursor is `n` and the number of the last case of the page; at most nine digits, so
# that the case number column (a 32-bit integer on PostgreSQL) holds it.
CURSOR_PATTERN = r"^n[0-9]{1,9}$"


def encode_cursor(number: int) -> str:
    """A cursor pointing after the case with `number`."""
    return f"n{number}"


def decode_cursor(cursor: str) -> int:
    """The case number a cursor points after; a 422 if it was not made by us."""
    if not re.fullmatch(CURSOR_PATTERN, cursor):
        raise InvalidInput(
            f"cursor: {cursor!r} is not a cursor from this API; pass next_cursor from the "
            "previous page"
        )
    return int(cursor[1:])


async def list_cases(
    reads: PublicCaseReads,
    principal: Principal,
    *,
    status: CaseStatus | None,
    case_type: CaseType | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the caller's cases (all cases for reviewers and admins), newest first,
    in their public view (`public_view`)."""
    before = decode_cursor(cursor) if cursor is not None else None
    items = await reads.page(
        claimant=principal.subject if principal.role == Role.USER else None,
        status=status.value if status else None,
        case_type=case_type.value if case_type else None,
        before_number=before,
        limit=limit + 1,
    )
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        next_cursor = encode_cursor(items[-1]["number"])
    return [public_view(row) for row in items], next_cursor


def cancel(session: Session, principal: Principal, case_id: str, *, now: datetime) -> Case:
    """Withdraw a case before approval; afterwards the table refuses it with a 409."""
    case = get_case(session, principal, case_id, CaseAction.CANCEL)
    case.transition(
        CaseStatus.CANCELLED,
        actor=principal.actor,
        at=now,
        reason_code="cancelled_by_user",
        detail="withdrawn by the claimant",
    )
    CaseRepository(session).save(case)
    return case
