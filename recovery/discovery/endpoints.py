"""HTTP routes of found deposits: validate, call the service, return a schema."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from starlette.concurrency import run_in_threadpool

from recovery.access.case_rules import ClaimantOnly
from recovery.api.context import AppContext, ContextDep, CurrentPrincipal
from recovery.api.errors import AUTHENTICATED, PayloadTooLarge, error_responses
from recovery.api.responses import JsonBytes
from recovery.appeals.errors import AppealRefused, DuplicateClaim
from recovery.appeals.refund_addresses import RefundAddressRefused
from recovery.appeals.schemas import AppealPublic
from recovery.db.tables import FoundDepositRow
from recovery.discovery import service
from recovery.discovery.classify import FoundStatus
from recovery.discovery.schemas import (
    FoundDepositChallenge,
    FoundDepositClaim,
    FoundDepositPage,
    FoundDepositPublic,
)
from recovery.errors import Forbidden, InvalidInput
from recovery.review.errors import BadSignature

router = APIRouter(prefix="/v1/found-deposits", tags=["found deposits"])

CURSOR_PATTERN = r"^f[0-9]{1,9}$"


def _view(context: AppContext, row: FoundDepositRow) -> FoundDepositPublic:
    network = context.policy.networks.get(row.network)
    return FoundDepositPublic.of(row, network.explorer_url(row.tx_hash) if network else None)


@router.get(
    "",
    response_model=FoundDepositPage,
    responses=error_responses(*AUTHENTICATED, Forbidden),
    summary="List found deposits",
)
async def list_found(
    context: ContextDep,
    principal: CurrentPrincipal,
    owner: Annotated[str | None, Query(max_length=128)] = None,
    status: FoundStatus | None = None,
    cursor: Annotated[
        str | None,
        Query(
            max_length=16,
            description="`next_cursor` of the previous page.",
            json_schema_extra={"pattern": CURSOR_PATTERN},
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=service.PAGE_LIMIT_MAX)] = 20,
) -> FoundDepositPage:
    """Mis-sent deposits the service found at your deposit addresses, newest first; staff
    may name any owner and any status (users see those offered: open and claimed)."""
    after = None
    if cursor is not None:
        if not re.fullmatch(CURSOR_PATTERN, cursor):
            raise InvalidInput(
                f"cursor: {cursor!r} is not a cursor from this API; pass next_cursor from "
                "the previous page"
            )
        after = int(cursor[1:])
    rows, last = await context.database.read(
        lambda session: service.page(
            session, principal, owner=owner, status=status, after=after, limit=limit
        )
    )
    return FoundDepositPage(
        items=[_view(context, row) for row in rows],
        next_cursor=None if last is None else f"f{last}",
    )


@router.get(
    "/{found_id}",
    response_model=FoundDepositPublic,
    responses=error_responses(*AUTHENTICATED, service.FoundDepositNotFound),
    summary="Read a found deposit",
)
async def get_found(
    found_id: str, context: ContextDep, principal: CurrentPrincipal
) -> FoundDepositPublic:
    """One found deposit with its chain facts, verdict and quote."""
    row = await context.database.read(
        lambda session: service.get_found(session, principal, found_id)
    )
    return _view(context, row)


@router.get(
    "/{found_id}/challenge",
    response_model=FoundDepositChallenge,
    responses=error_responses(
        *AUTHENTICATED, service.FoundDepositNotFound, service.FoundDepositNotOffered
    ),
    summary="The message that proves a found deposit is yours",
)
async def found_challenge(
    found_id: str,
    context: ContextDep,
    principal: CurrentPrincipal,
    refund_address: Annotated[str, Query(min_length=1, max_length=128)],
) -> FoundDepositChallenge:
    """What the transfer's sender signs (EIP-191) to claim with proof of ownership."""
    row = await context.database.read(
        lambda session: service.get_found(session, principal, found_id)
    )
    refund = service.refund_address_of(context.policy, row, refund_address)
    return FoundDepositChallenge(message=service.challenge_text(row, refund), signer=row.sender)


@router.post(
    "/{found_id}/claim",
    status_code=status.HTTP_201_CREATED,
    response_model=AppealPublic,
    responses=error_responses(
        *AUTHENTICATED,
        ClaimantOnly,
        service.FoundDepositNotFound,
        service.FoundDepositNotOffered,
        DuplicateClaim,
        BadSignature,
        AppealRefused,
        RefundAddressRefused,
        PayloadTooLarge,
    ),
    summary="Claim a found deposit",
)
async def claim_found(
    found_id: str, body: FoundDepositClaim, context: ContextDep, principal: CurrentPrincipal
) -> Response:
    """File the case of a found deposit with one call: its transfer, amount and verdict
    are known; name the refund address (and, optionally, prove ownership)."""
    filing = await service.claim(
        context.database,
        context.policy,
        principal,
        found_id,
        refund_address=body.refund_address,
        signature=body.signature,
        now=context.clock(),
        service_addresses=[context.gas_wallet] if context.gas_wallet else [],
        token_decimals=lambda network, token: run_in_threadpool(
            context.token_decimals, network, token
        ),
    )
    return JsonBytes(
        AppealPublic.of(filing.case).model_dump_json(), status_code=status.HTTP_201_CREATED
    )
