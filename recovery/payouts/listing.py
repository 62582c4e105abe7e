"""Reading payouts for operators: every transaction, its fees, its state, its explorer page."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from chains.errors import ChainError
from chains.evm.adapter import EvmAdapter
from policies import Policy
from recovery.access.keys import Principal, Role
from recovery.appeals.errors import CaseNotFound
from recovery.db.tables import CaseRow, PayoutRow, PayoutTransactionRow
from recovery.payouts.schemas import (
    GasWalletPublic,
    PayoutPublic,
    PayoutTransactionPublic,
)


def payouts(
    session: Session,
    policy: Policy,
    principal: Principal,
    *,
    status: str | None,
    network: str | None,
    limit: int,
) -> list[PayoutPublic]:
    """The newest payouts, optionally of one case status or network."""
    principal.require(Role.ADMIN)
    query = select(PayoutRow, CaseRow).join(CaseRow, col(CaseRow.id) == col(PayoutRow.case_id))
    if status:
        query = query.where(col(CaseRow.status) == status)
    if network:
        query = query.where(col(PayoutRow.network) == network)
    rows = session.execute(query.order_by(col(PayoutRow.created_at).desc()).limit(limit)).all()
    return [_public(session, policy, payout, case) for payout, case in rows]


def payout(session: Session, policy: Policy, principal: Principal, case_id: str) -> PayoutPublic:
    """One case's payout with all its transactions."""
    principal.require(Role.ADMIN)
    return payout_of_case(session, policy, case_id)


def payout_of_case(session: Session, policy: Policy, case_id: str) -> PayoutPublic:
    """One case's payout with all its transactions, for a caller already allowed to see it
    (the console's case page shows it to the reviewers who decided the case)."""
    row = session.execute(
        select(PayoutRow, CaseRow)
        .join(CaseRow, col(CaseRow.id) == col(PayoutRow.case_id))
        .where(col(PayoutRow.case_id) == case_id)
    ).one_or_none()
    if row is None:
        raise CaseNotFound(f"no payout for case {case_id}; a case has one once it is approved")
    return _public(session, policy, row[0], row[1])


def _public(session: Session, policy: Policy, payout: PayoutRow, case: CaseRow) -> PayoutPublic:
    network = policy.networks.get(payout.network)
    transactions = session.scalars(
        select(PayoutTransactionRow)
        .where(col(PayoutTransactionRow.payout_id) == payout.id)
        .order_by(col(PayoutTransactionRow.id))
    )
    return PayoutPublic(
        case_id=case.id,
        reference=f"RC-{case.number:06d}",
        status=case.status,
        network=payout.network,
        token=payout.token,
        source=payout.source,
        destination=payout.destination,
        amount=str(payout.amount),
        fee_amount=str(payout.fee_amount),
        nonce=payout.nonce,
        delivered_amount=None if payout.delivered_amount is None else str(payout.delivered_amount),
        delivered_tx=payout.delivered_tx,
        final=payout.final_at is not None,
        retry_requested_by=payout.retry_requested_by,
        transactions=[
            PayoutTransactionPublic(
                kind=t.kind,
                tx_hash=t.tx_hash,
                sender=t.sender,
                recipient=t.recipient,
                nonce=t.nonce,
                max_fee_per_gas=_text(t.fees.get("max_fee_per_gas")),
                max_priority_fee_per_gas=_text(t.fees.get("max_priority_fee_per_gas")),
                gas_price=_text(t.fees.get("gas_price")),
                value=str(t.fees.get("value") or 0),
                state=t.state,
                broadcast_at=t.broadcast_at,
                broadcast_error=t.broadcast_error,
                explorer_url=network.explorer_url(t.tx_hash) if network else "",
                created_at=t.created_at,
            )
            for t in transactions
        ],
        created_at=payout.created_at,
    )


def gas_wallets(
    session: Session,
    principal: Principal,
    adapters: Mapping[str, EvmAdapter],
    address: str | None,
) -> list[GasWalletPublic]:
    """The gas wallet's balance on every served network, and its top-ups in flight."""
    principal.require(Role.ADMIN)
    if address is None:
        return []
    wallets = []
    for network, adapter in sorted(adapters.items()):
        pending = session.scalar(
            select(func.count())
            .select_from(PayoutTransactionRow)
            .join(PayoutRow, col(PayoutRow.id) == col(PayoutTransactionRow.payout_id))
            .where(
                col(PayoutRow.network) == network,
                col(PayoutTransactionRow.kind) == "gas_topup",
                col(PayoutTransactionRow.state) == "pending",
            )
        )
        try:
            balance: str | None = str(adapter.native_balance(address))
            error = None
        except ChainError as exc:
            balance, error = None, str(exc)
        wallets.append(
            GasWalletPublic(
                network=network,
                address=address,
                balance=balance,
                error=error,
                pending_top_ups=int(pending or 0),
            )
        )
    return wallets


def _text(value: object) -> str | None:
    return None if value is None else str(value)
