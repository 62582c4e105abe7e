"""Routes: operators read payouts, their transactions and the gas wallets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from recovery.api.context import ContextDep, CurrentPrincipal
from recovery.api.errors import error_responses
from recovery.payouts import listing
from recovery.payouts.schemas import GasWalletList, PayoutPage, PayoutPublic

router = APIRouter(prefix="/v1/admin", tags=["operators"])


@router.get(
    "/payouts",
    response_model=PayoutPage,
    responses=error_responses(401, 403, 422),
    summary="List payouts and their transactions (admin)",
)
def list_payouts(
    context: ContextDep,
    principal: CurrentPrincipal,
    status: Annotated[str | None, Query(max_length=32, description="A case status.")] = None,
    network: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PayoutPage:
    """Newest first: each payout's nonce, delivered amount, and every signed transaction."""
    with context.database.unit_of_work() as session:
        items = listing.payouts(
            session, context.policy, principal, status=status, network=network, limit=limit
        )
        return PayoutPage(items=items)


@router.get(
    "/payouts/{case_id}",
    response_model=PayoutPublic,
    responses=error_responses(401, 403, 404),
    summary="One case's payout (admin)",
)
def get_payout(case_id: str, context: ContextDep, principal: CurrentPrincipal) -> PayoutPublic:
    """The payout of a case with its transactions (hash, nonce, fees, state, explorer link)."""
    with context.database.unit_of_work() as session:
        return listing.payout(session, context.policy, principal, case_id)


@router.get(
    "/gas-wallets",
    response_model=GasWalletList,
    responses=error_responses(401, 403),
    summary="The gas wallet on every network, with its balance (admin)",
)
def list_gas_wallets(context: ContextDep, principal: CurrentPrincipal) -> GasWalletList:
    """Its address and balance per served network, and its gas top-ups still in flight."""
    with context.database.unit_of_work() as session:
        items = listing.gas_wallets(session, principal, context.adapters, context.gas_wallet)
        return GasWalletList(items=items)
