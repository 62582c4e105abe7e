"""HTTP routes of the appeals feature: validate, call the service, return a schema."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel, Field
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool

from recovery.access.case_rules import CaseAction, ClaimantOnly
from recovery.access.keys import Role
from recovery.api.context import ContextDep, CurrentPrincipal
from recovery.api.errors import AUTHENTICATED, PayloadTooLarge, error_responses
from recovery.api.responses import JsonBytes
from recovery.appeals import service
from recovery.appeals.errors import (
    AddressNotClaimants,
    AppealRefused,
    CaseNotFound,
    DuplicateClaim,
    IdempotencyKeyReused,
    NotOurDepositAddress,
)
from recovery.appeals.refund_addresses import RefundAddressRefused
from recovery.appeals.repository import PublicCaseReads
from recovery.appeals.schemas import AppealCreate, AppealPage, AppealPublic, EventList, EventPublic
from recovery.domain.case import CaseType
from recovery.domain.errors import InvalidTransition, StaleCase
from recovery.domain.states import CaseStatus
from recovery.i18n.endpoints import AcceptLanguage, language_for

router = APIRouter(prefix="/v1/appeals", tags=["appeals"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_\-:.]+$",
        description="Repeat a request safely: the same key and body give back the same case.",
    ),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AppealPublic,
    responses=error_responses(
        *AUTHENTICATED,
        ClaimantOnly,
        DuplicateClaim,
        PayloadTooLarge,
        IdempotencyKeyReused,
        AddressNotClaimants,
        NotOurDepositAddress,
        AppealRefused,
        RefundAddressRefused,
    ),
    summary="File an appeal",
)
async def file_appeal(
    body: AppealCreate,
    context: ContextDep,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """File a case for one mis-sent transfer to one of your deposit addresses."""
    now = context.clock()
    service_addresses = [context.gas_wallet] if context.gas_wallet else []
    try:
        filing = await service.file_appeal(
            context.database,
            context.policy,
            principal,
            body,
            idempotency_key=idempotency_key,
            now=now,
            # An unlisted token's decimals, asked of its chain in a thread (no
            # transaction is open while it answers).
            token_decimals=lambda network, token: run_in_threadpool(
                context.token_decimals, network, token
            ),
            service_addresses=service_addresses,
        )
    except service.FilingRaced as race:
        filing = await context.database.run(
            partial(service.settle_race, principal=principal, race=race, key=idempotency_key)
        )
    return JsonBytes(
        AppealPublic.of(filing.case).model_dump_json(),
        status_code=status.HTTP_201_CREATED,
        headers={"Idempotent-Replayed": "true"} if filing.replayed else None,
    )


@router.get(
    "",
    response_model=AppealPage,
    responses=error_responses(*AUTHENTICATED),
    summary="List your appeals",
)
async def list_appeals(
    context: ContextDep,
    principal: CurrentPrincipal,
    status: CaseStatus | None = None,
    case_type: CaseType | None = None,
    cursor: Annotated[
        str | None,
        Query(
            max_length=64,
            description="`next_cursor` of the previous page.",
            json_schema_extra={"pattern": service.CURSOR_PATTERN},
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=service.PAGE_LIMIT_MAX)] = 20,
) -> Response:
    """Your cases, newest first, a page at a time."""
    items, next_cursor = await service.list_cases(
        PublicCaseReads(context.database),
        principal,
        status=status,
        case_type=case_type,
        cursor=cursor,
        limit=limit,
    )
    return JsonBytes(to_json({"items": items, "next_cursor": next_cursor}))


@router.get(
    "/{case_id}",
    response_model=AppealPublic,
    responses=error_responses(*AUTHENTICATED, CaseNotFound),
    summary="Read an appeal",
)
async def get_appeal(case_id: str, context: ContextDep, principal: CurrentPrincipal) -> Response:
    """One of your cases, with the chain facts and the verdict once known."""
    view = await service.public_case(PublicCaseReads(context.database), principal, case_id)
    return JsonBytes(to_json(view))


@router.get(
    "/{case_id}/events",
    response_model=EventList,
    responses=error_responses(*AUTHENTICATED, CaseNotFound),
    summary="Follow an appeal",
)
async def appeal_events(
    case_id: str,
    context: ContextDep,
    principal: CurrentPrincipal,
    accept_language: AcceptLanguage = None,
) -> EventList:
    """Every state change of one of your cases, oldest first, in your language."""
    events = await context.database.read(
        lambda session: service.events(session, principal, case_id)
    )
    staff = principal.role != Role.USER
    language = await language_for(context, principal, accept_language)
    return EventList(items=[EventPublic.of(e, staff=staff, language=language) for e in events])


class VerificationCode(BaseModel):
    """What the case's owner gives anyone who wants to check the case is real."""

    reference: str
    verification_code: str
    verify_url: str = Field(description="Where anyone checks it: GET /v1/verify/{reference}.")


@router.get(
    "/{case_id}/verification-code",
    response_model=VerificationCode,
    responses=error_responses(*AUTHENTICATED, CaseNotFound, ClaimantOnly),
    summary="Your case's verification code",
)
async def verification_code(
    case_id: str, context: ContextDep, principal: CurrentPrincipal
) -> VerificationCode:
    """The code only you see: with the reference, anyone can check at /verify that the
    case is real (someone who cannot show both is not acting for this service)."""
    case = await context.database.read(
        lambda session: service.get_case(session, principal, case_id, CaseAction.VERIFICATION_CODE)
    )
    return VerificationCode(
        reference=case.reference,
        verification_code=case.verification_code or "",
        verify_url=f"/v1/verify/{case.reference}",
    )


@router.post(
    "/{case_id}/cancel",
    response_model=AppealPublic,
    responses=error_responses(
        *AUTHENTICATED, CaseNotFound, ClaimantOnly, InvalidTransition, StaleCase
    ),
    summary="Withdraw an appeal",
)
def cancel_appeal(case_id: str, context: ContextDep, principal: CurrentPrincipal) -> AppealPublic:
    """Withdraw one of your cases; possible until a reviewer approves it."""
    with context.database.unit_of_work() as session:
        return AppealPublic.of(service.cancel(session, principal, case_id, now=context.clock()))
