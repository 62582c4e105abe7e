"""HTTP routes of the deposit address registry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from recovery.access.keys import Role
from recovery.api.context import ContextDep, CurrentPrincipal
from recovery.api.errors import AUTHENTICATED, PayloadTooLarge, error_responses
from recovery.deposit_addresses import service
from recovery.deposit_addresses.repository import DepositAddressRepository
from recovery.deposit_addresses.schemas import (
    DepositAddressCreate,
    DepositAddressList,
    DepositAddressPublic,
)
from recovery.errors import Forbidden

router = APIRouter(prefix="/v1/deposit-addresses", tags=["deposit addresses"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DepositAddressPublic,
    responses=error_responses(
        *AUTHENTICATED, Forbidden, service.AddressAlreadyRegistered, PayloadTooLarge
    ),
    summary="Register a deposit address (admin)",
)
def register_address(
    body: DepositAddressCreate, context: ContextDep, principal: CurrentPrincipal
) -> DepositAddressPublic:
    """Record that the exchange opened `address` for `owner` on `networks`."""
    principal.require(Role.ADMIN)
    with context.database.unit_of_work() as session:
        row = service.register(
            session,
            context.policy,
            address=body.address,
            owner=body.owner,
            networks=body.networks,
            hd_index=body.hd_index,
            actor=principal.actor,
            now=context.clock(),
        )
        return DepositAddressPublic.of(row)


@router.get(
    "",
    response_model=DepositAddressList,
    responses=error_responses(*AUTHENTICATED, Forbidden),
    summary="List deposit addresses",
)
def list_addresses(
    context: ContextDep,
    principal: CurrentPrincipal,
    owner: Annotated[str | None, Query(max_length=128)] = None,
) -> DepositAddressList:
    """Your deposit addresses; admins and reviewers may name any owner."""
    if principal.role == Role.USER and owner not in (None, principal.subject):
        raise Forbidden("users may list only their own deposit addresses; leave owner out")
    owner = owner or principal.subject
    with context.database.unit_of_work() as session:
        rows = DepositAddressRepository(session).of_owner(owner)
        return DepositAddressList(items=[DepositAddressPublic.of(r) for r in rows])
