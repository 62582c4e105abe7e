"""Listing found deposits and turning one into a case. Services never commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from policies import Policy
from recovery.access.keys import Principal, Role
from recovery.appeals import formats
from recovery.appeals.errors import DuplicateClaim
from recovery.appeals.schemas import AppealCreate
from recovery.appeals.service import Filing, FilingRaced, file_appeal
from recovery.db.engine import Database
from recovery.db.tables import FoundDepositRow
from recovery.discovery.classify import OFFERED, FoundStatus
from recovery.discovery.holders import holder
from recovery.domain.case import NATIVE
from recovery.errors import Conflict, Forbidden, NotFound
from recovery.review.errors import BadSignature
from recovery.review.proof import recover_signer

PAGE_LIMIT_MAX = 100


class FoundDepositNotFound(NotFound):
    """Raised when a found deposit does not exist or belongs to someone else."""


class FoundDepositNotOffered(Conflict):
    """Raised when a found deposit cannot be claimed: dust, ruled out, reorged out or taken."""


def challenge_text(row: FoundDepositRow, refund_address: str) -> str:
    """The message the sender signs to prove ownership when claiming a found deposit."""
    return (
        f"Deposit recovery: found deposit {row.id}.\n"
        f"I sent transaction {row.tx_hash} on {row.network} and ask that it be refunded "
        f"to {refund_address}."
    )


def refund_address_of(policy: Policy, row: FoundDepositRow, refund_address: str) -> str:
    """The refund address in the format of the found deposit's network family."""
    network = policy.networks.get(row.network)
    if network is None:
        raise FoundDepositNotOffered(
            f"found deposit {row.id} is on {row.network}, which the policy no longer knows"
        )
    return formats.address(network.family, refund_address, "refund_address")


def get_found(session: Session, principal: Principal, found_id: str) -> FoundDepositRow:
    """The found deposit if the caller may see it: its owner, or staff."""
    row = session.scalar(select(FoundDepositRow).where(col(FoundDepositRow.id) == found_id))
    if row is None or (principal.role == Role.USER and row.owner != principal.subject):
        raise FoundDepositNotFound(f"no found deposit {found_id} among yours")
    session.expunge(row)
    _show_holder(session, row)
    return row


def _show_holder(session: Session, row: FoundDepositRow) -> None:
    """An open find that a case filed by hand holds is shown as that case's (the row is
    linked for good when it is next claimed or scanned)."""
    if row.status == FoundStatus.OPEN:
        case_id = _holder(session, row)
        if case_id is not None:
            row.status, row.case_id = FoundStatus.CLAIMED.value, case_id


def page(
    session: Session,
    principal: Principal,
    *,
    owner: str | None,
    status: FoundStatus | None,
    after: int | None,
    limit: int,
) -> tuple[list[FoundDepositRow], int | None]:
    """One page of found deposits, newest first: a user's own (staff: any owner's); with
    no status, those offered to their owner (open, claimed) for a user and all for staff;
    and the number to pass as the next cursor."""
    if principal.role == Role.USER:
        if owner not in (None, principal.subject):
            raise Forbidden("users may list only their own found deposits; leave owner out")
        owner = principal.subject
    query = select(FoundDepositRow)
    if owner is not None:
        query = query.where(col(FoundDepositRow.owner) == owner)
    if status is not None:
        query = query.where(col(FoundDepositRow.status) == status.value)
    elif principal.role == Role.USER:
        query = query.where(col(FoundDepositRow.status).in_([s.value for s in OFFERED]))
    if after is not None:
        query = query.where(col(FoundDepositRow.number) < after)
    rows = list(
        session.scalars(query.order_by(col(FoundDepositRow.number).desc()).limit(limit + 1))
    )
    for row in rows:
        session.expunge(row)
        _show_holder(session, row)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].number if more and rows else None)


async def claim(
    database: Database,
    policy: Policy,
    principal: Principal,
    found_id: str,
    *,
    refund_address: str,
    signature: str | None,
    now: datetime,
    service_addresses: Collection[str] = (),
    token_decimals: Callable[[str, str], Awaitable[int | None]] | None = None,
) -> Filing:
    """File the case of a found deposit: the appeal the owner would have filed, for exactly
    its transfer, with its amount; the transfer's claim keeps it one case, never two."""
    row, holder = await database.read(
        lambda session: _found_and_holder(session, principal, found_id)
    )
    if holder is not None:
        raise FoundDepositNotOffered(
            f"found deposit {found_id} is already claimed by case {holder}"
        )
    # A claimed one whose case let go of it (cancelled, rejected, expired) is offered again.
    if row.status not in (FoundStatus.OPEN, FoundStatus.CLAIMED):
        why = {
            FoundStatus.DUST: "it is below the policy's minimum value for a recovery",
            FoundStatus.REFUSED: "the policy cannot recover it (its verdict says why)",
            FoundStatus.WITHDRAWN: "its block was reorged out of the chain",
        }.get(FoundStatus(row.status), row.status)
        raise FoundDepositNotOffered(f"found deposit {found_id} cannot be claimed: {why}")
    refund = refund_address_of(policy, row, refund_address)
    proven_by = None
    if signature is not None:
        signer = recover_signer(challenge_text(row, refund), signature)
        if signer.lower() != row.sender.lower():
            raise BadSignature(
                f"signature: signed by {signer}, but the transfer was sent by {row.sender}; "
                "sign the challenge (GET /v1/found-deposits/{id}/challenge) with the sending "
                "wallet",
                reason_code="ownership_not_proven",
            )
        proven_by = row.sender
    appeal = AppealCreate(
        case_type=row.kind,
        network=row.network,
        opened_for=row.opened_for,
        tx_hash=row.tx_hash,
        token=row.token,
        deposit_address=row.deposit_address,
        refund_address=refund,
        claimed_amount=str(row.amount),
        log_indexes=None if row.token == NATIVE else [row.log_index],
    )
    try:
        filing = await file_appeal(
            database,
            policy,
            principal,
            appeal,
            idempotency_key=None,
            now=now,
            token_decimals=token_decimals,
            service_addresses=service_addresses,
            proven_by=proven_by,
        )
    except FilingRaced as race:
        raise DuplicateClaim(
            f"found deposit {found_id}: its transfer was claimed by another request at the "
            "same moment; list your appeals to find that case"
        ) from race
    except DuplicateClaim:
        # A case already holds the transfer (the owner filed it by hand): the find is
        # that case's, not a second one.
        await database.run(lambda session: _link_holder(session, row))
        raise
    case_id = filing.case.id
    await database.run(lambda session: _mark_claimed(session, row.number, case_id, now))
    return filing


def _mark_claimed(session: Session, number: int | None, case_id: str, now: datetime) -> None:
    session.execute(
        update(FoundDepositRow)
        .where(col(FoundDepositRow.number) == number)
        .values(status=FoundStatus.CLAIMED.value, case_id=case_id, updated_at=now)
    )


def _holder(session: Session, row: FoundDepositRow) -> str | None:
    """The live case that stands for the found deposit's transfer, if any."""
    return holder(
        session,
        network=row.network,
        tx_hash=row.tx_hash,
        deposit_address=row.deposit_address,
        token=row.token,
        log_index=row.log_index,
    )


def _found_and_holder(
    session: Session, principal: Principal, found_id: str
) -> tuple[FoundDepositRow, str | None]:
    row = get_found(session, principal, found_id)
    return row, _holder(session, row)


def _link_holder(session: Session, row: FoundDepositRow) -> None:
    holder = _holder(session, row)
    if holder is not None:
        _mark_claimed(session, row.number, holder, row.updated_at)
