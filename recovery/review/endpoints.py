"""Routes: the user's quote, proof and answer actions, and the appeals team's review."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic_core import to_json

from recovery.access.case_rules import AdminOnly, ClaimantOnly, DeskOnly, OwnCase
from recovery.access.keys import Role
from recovery.api.context import ContextDep, CurrentPrincipal
from recovery.api.errors import AUTHENTICATED, PayloadTooLarge, error_responses
from recovery.api.responses import JsonBytes
from recovery.appeals.errors import CaseNotFound, DuplicateClaim
from recovery.appeals.repository import PublicCaseReads
from recovery.appeals.schemas import AppealPage, AppealPublic
from recovery.domain.errors import InvalidTransition, StaleCase
from recovery.errors import Conflict, Forbidden
from recovery.i18n.catalogue import translate
from recovery.i18n.endpoints import AcceptLanguage, language_for
from recovery.i18n.texts import CHALLENGE_HOW
from recovery.payouts import operator
from recovery.payouts.operator import ChainUnreadable, NoChainEvidence
from recovery.review import proof, quotes, routing, service
from recovery.review.errors import (
    AlreadyApproved,
    BadSignature,
    ClaimedByAnother,
    NotQuotable,
    OwnershipNotProven,
    PayoutAlreadySigned,
    QuoteExpired,
    QuoteNotFound,
    QuoteSuperseded,
    UnknownReasonCode,
)
from recovery.review.schemas import (
    Acceptance,
    Approval,
    Challenge,
    DeskQueue,
    DeskQueueList,
    InfoAnswer,
    InfoRequest,
    PayoutResolution,
    Proof,
    Rejection,
    ReviewerQueues,
    ReviewerQueuesSet,
)

_DECIMAL = {"pattern": service.DECIMAL_PATTERN, "examples": ["2500", "99.95"]}

user_router = APIRouter(prefix="/v1/appeals", tags=["appeals"])
review_router = APIRouter(prefix="/v1/review", tags=["review"])
admin_router = APIRouter(prefix="/v1/admin", tags=["operators"])


@user_router.post(
    "/{case_id}/accept",
    response_model=AppealPublic,
    responses=error_responses(
        *AUTHENTICATED,
        CaseNotFound,
        ClaimantOnly,
        InvalidTransition,
        StaleCase,
        QuoteNotFound,
        QuoteSuperseded,
        QuoteExpired,
        PayloadTooLarge,
    ),
    summary="Accept the quote",
)
def accept_quote(
    case_id: str, body: Acceptance, context: ContextDep, principal: CurrentPrincipal
) -> AppealPublic:
    """Accept the open quote by its id; the case goes to the appeals team."""
    with context.database.unit_of_work() as session:
        case = quotes.accept(session, principal, case_id, body.quote_id, now=context.clock())
        return AppealPublic.of(case)


@user_router.post(
    "/{case_id}/requote",
    response_model=AppealPublic,
    responses=error_responses(
        *AUTHENTICATED,
        CaseNotFound,
        ClaimantOnly,
        InvalidTransition,
        StaleCase,
        NotQuotable,
        DuplicateClaim,
    ),
    summary="Ask for a new quote",
)
def renew_quote(case_id: str, context: ContextDep, principal: CurrentPrincipal) -> AppealPublic:
    """A fresh quote for a quoted case or one whose quote expired."""
    with context.database.unit_of_work() as session:
        case = quotes.requote(session, context.policy, principal, case_id, now=context.clock())
        return AppealPublic.of(case)


@user_router.get(
    "/{case_id}/challenge",
    response_model=Challenge,
    responses=error_responses(*AUTHENTICATED, CaseNotFound, ClaimantOnly, Conflict),
    summary="The message to sign for proof of ownership",
)
async def get_challenge(
    case_id: str,
    context: ContextDep,
    principal: CurrentPrincipal,
    accept_language: AcceptLanguage = None,
) -> Challenge:
    """The text the transfer's sender signs (EIP-191 personal_sign) to prove ownership,
    with how to sign it in your language."""
    _, message, signer = await context.database.run(
        lambda session: proof.challenge(session, principal, case_id)
    )
    language = await language_for(context, principal, accept_language)
    return Challenge(
        message=message,
        signer=signer,
        method="EIP-191 personal_sign",
        instructions=translate(CHALLENGE_HOW, language),
    )


@user_router.post(
    "/{case_id}/proof",
    response_model=AppealPublic,
    responses=error_responses(
        *AUTHENTICATED,
        CaseNotFound,
        ClaimantOnly,
        InvalidTransition,
        StaleCase,
        Conflict,
        BadSignature,
        PayloadTooLarge,
    ),
    summary="Prove ownership",
)
def give_proof(
    case_id: str, body: Proof, context: ContextDep, principal: CurrentPrincipal
) -> AppealPublic:
    """Submit the sender's signature of the challenge."""
    with context.database.unit_of_work() as session:
        case = proof.prove(session, principal, case_id, body.signature, now=context.clock())
        return AppealPublic.of(case)


@user_router.post(
    "/{case_id}/info",
    response_model=AppealPublic,
    responses=error_responses(
        *AUTHENTICATED, CaseNotFound, ClaimantOnly, InvalidTransition, StaleCase, PayloadTooLarge
    ),
    summary="Answer the appeals team",
)
def answer(
    case_id: str, body: InfoAnswer, context: ContextDep, principal: CurrentPrincipal
) -> AppealPublic:
    """Answer the team's question; the case is verified again."""
    with context.database.unit_of_work() as session:
        case = service.answer_info(
            session, principal, case_id, answer=body.answer, now=context.clock()
        )
        return AppealPublic.of(case)


@review_router.get(
    "/queues",
    response_model=DeskQueueList,
    responses=error_responses(*AUTHENTICATED, Forbidden),
    summary="The desk's queues and what waits in them (reviewer)",
)
async def desk_queues(context: ContextDep, principal: CurrentPrincipal) -> DeskQueueList:
    """Every queue of the routing policy with its target time, waiting cases, the oldest
    one and how many are past the target."""
    principal.require(Role.REVIEWER, Role.ADMIN)
    now = context.clock()
    rows = await context.database.read(lambda session: routing.board(session, now))
    return DeskQueueList(items=[DeskQueue.model_validate(row) for row in rows])


@review_router.get(
    "/queue",
    response_model=AppealPage,
    responses=error_responses(*AUTHENTICATED, Forbidden),
    summary="Cases waiting for review (reviewer)",
)
async def review_queue(
    context: ContextDep,
    principal: CurrentPrincipal,
    network: Annotated[str | None, Query(max_length=64)] = None,
    case_type: Annotated[str | None, Query(max_length=32)] = None,
    min_value: Annotated[
        str | None, Query(description="Quote currency.", json_schema_extra=_DECIMAL)
    ] = None,
    max_value: Annotated[
        str | None, Query(description="Quote currency.", json_schema_extra=_DECIMAL)
    ] = None,
    older_than_minutes: Annotated[int | None, Query(ge=0, le=525_600)] = None,
    status: Annotated[
        Literal["in_review", "needs_info"],
        Query(description="in_review: waiting for a decision; needs_info: for the user."),
    ] = "in_review",
    network_class: Annotated[
        Literal["direct", "conditional"] | None,
        Query(description="The policy's recovery class of the network for the case type."),
    ] = None,
    holder: Annotated[
        Literal["mine", "unclaimed"] | None,
        Query(description="mine: cases you hold; unclaimed: nobody's (or a lapsed hold)."),
    ] = None,
    sort: Annotated[
        Literal["age", "value", "priority"],
        Query(description="age: oldest first; value, priority: highest first."),
    ] = "age",
    queue: Annotated[
        str | None,
        Query(max_length=32, description="One desk queue (GET /v1/review/queues lists them)."),
    ] = None,
    all_queues: Annotated[
        bool,
        Query(description="A reviewer who belongs to queues sees those; true: every queue."),
    ] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None,
        Query(
            max_length=32,
            description="`next_cursor` of the previous page; it goes on in the order that "
            "page had, whatever `sort` says.",
            json_schema_extra={
                "pattern": f"{service.QUEUE_CURSOR_PATTERN}|{service.VALUE_CURSOR_PATTERN}|"
                f"{service.PRIORITY_CURSOR_PATTERN}"
            },
        ),
    ] = None,
) -> Response:
    """Cases in review (or waiting for the user), oldest or most valuable first, with
    filters by network, type, class, value, age and holder."""
    filters = service.QueueFilter(
        network=network,
        case_type=case_type,
        min_value=service.quote_value(min_value, "min_value"),
        max_value=service.quote_value(max_value, "max_value"),
        older_than=timedelta(minutes=older_than_minutes) if older_than_minutes else None,
        status=status,
        network_class=network_class,
        holder=holder,
        sort=sort,
        queue=queue,
        queues=None if all_queues else await _own_queues(context, principal),
    )
    now = context.clock()
    items, next_cursor = await service.queue(
        PublicCaseReads(context.database),
        principal,
        filters,
        now=now,
        limit=limit,
        cursor=cursor,
        policy=context.policy,
    )
    return JsonBytes(to_json({"items": items, "next_cursor": next_cursor}))


async def _own_queues(context: ContextDep, principal: CurrentPrincipal) -> tuple[str, ...] | None:
    """The reviewer's own desk queues; None when they belong to none (they see all)."""
    subject = principal.subject
    own = await context.database.read(lambda session: routing.reviewer_queues(session, subject))
    return tuple(own) or None


def _decision(summary: str) -> dict[str, object]:
    return {
        "response_model": AppealPublic,
        "responses": error_responses(
            *AUTHENTICATED,
            DeskOnly,
            OwnCase,
            CaseNotFound,
            InvalidTransition,
            StaleCase,
            ClaimedByAnother,
            AlreadyApproved,
            OwnershipNotProven,
            NotQuotable,
            PayoutAlreadySigned,
            UnknownReasonCode,
            PayloadTooLarge,
        ),
        "summary": summary,
    }


@review_router.post("/{case_id}/claim", **_decision("Take a case (reviewer)"))  # type: ignore[arg-type]
def claim_case(case_id: str, context: ContextDep, principal: CurrentPrincipal) -> AppealPublic:
    """Hold the case so that no other reviewer decides it at the same time."""
    with context.database.unit_of_work() as session:
        return AppealPublic.of(service.claim(session, principal, case_id, now=context.clock()))


@review_router.post("/{case_id}/approve", **_decision("Approve (reviewer)"))  # type: ignore[arg-type]
def approve_case(
    case_id: str, context: ContextDep, principal: CurrentPrincipal, body: Approval | None = None
) -> AppealPublic:
    """Approve the case; large cases need a second, different reviewer.

    A verdict with `review_flags` (a deposit address that holds code) is approved only
    when the body names each of them in `acknowledge`.
    """
    acknowledged = body.acknowledge if body is not None else []
    with context.database.unit_of_work() as session:
        case = service.approve(
            session,
            context.policy,
            principal,
            case_id,
            now=context.clock(),
            acknowledged=acknowledged,
        )
        return AppealPublic.of(case)


@review_router.post("/{case_id}/reject", **_decision("Reject (reviewer)"))  # type: ignore[arg-type]
def reject_case(
    case_id: str, body: Rejection, context: ContextDep, principal: CurrentPrincipal
) -> AppealPublic:
    """Reject with a reason code and a note the user reads."""
    with context.database.unit_of_work() as session:
        case = service.reject(
            session,
            principal,
            case_id,
            reason_code=body.reason_code,
            note=body.note,
            now=context.clock(),
        )
        return AppealPublic.of(case)


@review_router.post("/{case_id}/recheck", **_decision("Check the chain again (reviewer)"))  # type: ignore[arg-type]
def recheck(case_id: str, context: ContextDep, principal: CurrentPrincipal) -> AppealPublic:
    """Send a case held for review (a short deposit balance, a payout that would fail) back
    through verification: the chain is read again and a new quote issued if it now passes."""
    with context.database.unit_of_work() as session:
        case = service.recheck(session, principal, case_id, now=context.clock())
        return AppealPublic.of(case)


@review_router.post("/{case_id}/request-info", **_decision("Ask the user (reviewer)"))  # type: ignore[arg-type]
def ask_user(
    case_id: str, body: InfoRequest, context: ContextDep, principal: CurrentPrincipal
) -> AppealPublic:
    """Ask the user a question; the case waits for the answer."""
    with context.database.unit_of_work() as session:
        case = service.request_info(
            session, principal, case_id, question=body.question, now=context.clock()
        )
        return AppealPublic.of(case)


@admin_router.post(
    "/payouts/{case_id}/resolve",
    response_model=AppealPublic,
    responses=error_responses(
        *AUTHENTICATED,
        AdminOnly,
        OwnCase,
        CaseNotFound,
        InvalidTransition,
        StaleCase,
        PayloadTooLarge,
        NoChainEvidence,
        ChainUnreadable,
    ),
    summary="Settle a quarantined or failed payout (admin)",
)
def resolve_payout(
    case_id: str, body: PayoutResolution, context: ContextDep, principal: CurrentPrincipal
) -> AppealPublic:
    """On the chain's evidence: mark paid, mark failed, or send again (see README, Operators)."""
    with context.database.unit_of_work() as session:
        case = operator.resolve(
            session,
            principal,
            case_id,
            resolution=body.resolution,
            note=body.note,
            now=context.clock(),
            adapters=context.adapters,
        )
        return AppealPublic.of(case)


@admin_router.get(
    "/reviewers/{subject}/queues",
    response_model=ReviewerQueues,
    responses=error_responses(*AUTHENTICATED, Forbidden, routing.UnknownReviewer),
    summary="A reviewer's desk queues (admin)",
)
async def get_reviewer_queues(
    subject: str, context: ContextDep, principal: CurrentPrincipal
) -> ReviewerQueues:
    """The queues a reviewer belongs to (none: they see every queue)."""
    principal.require(Role.ADMIN)
    own = await context.database.read(
        lambda session: routing.reviewer_queues(session, subject, check=True)
    )
    return ReviewerQueues(subject=subject, queues=own)


@admin_router.put(
    "/reviewers/{subject}/queues",
    response_model=ReviewerQueues,
    responses=error_responses(
        *AUTHENTICATED, Forbidden, routing.UnknownQueue, routing.UnknownReviewer, PayloadTooLarge
    ),
    summary="Set a reviewer's desk queues (admin)",
)
async def put_reviewer_queues(
    subject: str, body: ReviewerQueuesSet, context: ContextDep, principal: CurrentPrincipal
) -> ReviewerQueues:
    """Make these the reviewer's queues; their queue view shows only these."""
    principal.require(Role.ADMIN)
    now = context.clock()
    actor = principal.actor
    own = await context.database.run(
        lambda session: routing.set_reviewer_queues(
            session, subject, body.queues, actor=actor, now=now
        )
    )
    return ReviewerQueues(subject=subject, queues=own)
