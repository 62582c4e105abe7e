"""The appeals team's work: a queue, one reviewer per case, decisions, questions."""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from policies import Policy
from recovery.access.case_rules import CaseAction
from recovery.access.keys import Principal, Role
from recovery.appeals.repository import CaseRepository, PublicCaseReads, QueueQuery
from recovery.appeals.schemas import public_view
from recovery.appeals.service import get_case
from recovery.appeals.verdicts import judge_case
from recovery.db.tables import PayoutRow, PayoutTransactionRow
from recovery.domain.case import Case, micros
from recovery.domain.errors import InvalidTransition
from recovery.domain.reasons import REJECTABLE
from recovery.domain.states import CaseStatus
from recovery.errors import InvalidInput
from recovery.review.errors import (
    AlreadyApproved,
    ClaimedByAnother,
    NotQuotable,
    OwnershipNotProven,
    PayoutAlreadySigned,
    ReviewFlagNotAcknowledged,
    UnknownReasonCode,
)
from recovery.review.quotes import accepted_quote

INFO_DEADLINE = timedelta(days=14)
# A reviewer's hold on a case lapses if they leave it undecided this long.
REVIEW_CLAIM_LAPSE = timedelta(minutes=30)


@dataclass(frozen=True)
class QueueFilter:
    """Which cases a reviewer wants to see, and in which order.

    `status`: in_review (waiting for a decision) or needs_info (waiting for the user).
    `network_class`: the policy's recovery class of the case's network for its case type.
    `holder`: "mine" (held by the caller) or "unclaimed" (nobody's, or a lapsed hold).
    `sort`: "age" (oldest first), "value" (highest value first) or "priority" (highest
    first, `policies/data/queues.yaml`). `queue`: one desk queue.
    """

    network: str | None = None
    case_type: str | None = None
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    older_than: timedelta | None = None
    status: str = "in_review"
    network_class: str | None = None
    holder: str | None = None
    sort: str = "age"
    queue: str | None = None
    # Only these desk queues (a reviewer's own); None: every queue.
    queues: tuple[str, ...] | None = None


QUEUE_STATUSES = ("in_review", "needs_info")
QUEUE_CLASSES = ("direct", "conditional")
QUEUE_HOLDERS = ("mine", "unclaimed")
QUEUE_SORTS = ("age", "value", "priority")


def _one_of(value: str | None, allowed: tuple[str, ...], field: str) -> None:
    if value is not None and value not in allowed:
        raise InvalidInput(f"{field}: {value!r} is not one of {', '.join(allowed)}")


def class_networks(policy: Policy, recovery_class: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The networks of `recovery_class`, for wrong_network and for unlisted_token cases."""
    return tuple(  # type: ignore[return-value]
        tuple(
            sorted(
                n.id
                for n in policy.networks.values()
                if n.case_policy(case_type).recovery_class.value == recovery_class
            )
        )
        for case_type in ("wrong_network", "unlisted_token")
    )


# A value in the quote currency as a client writes it: digits, and at most 18 decimals.
DECIMAL_PATTERN = r"^[0-9]{1,30}(\.[0-9]{1,18})?$"


def quote_value(text: str | None, field: str) -> Decimal | None:
    """A non-negative decimal string as a Decimal; a 422 that shows the form otherwise."""
    if text is None:
        return None
    if not re.fullmatch(DECIMAL_PATTERN, text):
        raise InvalidInput(
            f"{field}: {text!r} is not a decimal number; write digits with an optional "
            "fraction, like 2500 or 99.95"
        )
    value = Decimal(text)
    # Beyond any case's value, a bound holds as the highest value there is: a minimum
    # above it matches nothing, a maximum above it bounds nothing.
    return min(value, Decimal(VALUE_MAX))


# The queue's value column is a 64-bit count of millionths.
VALUE_MICROS_MAX = 2**63 - 1
VALUE_MAX = VALUE_MICROS_MAX // 10**6


# A queue cursor: "q", the last case's updated_at in microseconds since 1970, "_", its
# number; bounded, so that no client number reaches a query unchecked.
QUEUE_CURSOR_PATTERN = r"^q[0-9]{1,17}_[0-9]{1,9}$"
VALUE_CURSOR_PATTERN = r"^v[0-9]{1,19}_[0-9]{1,9}$"
PRIORITY_CURSOR_PATTERN = r"^p[0-9]{1,9}_[0-9]{1,9}$"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _queue_cursor(updated_at: datetime, number: int) -> str:
    micros = (updated_at - _EPOCH) // timedelta(microseconds=1)
    return f"q{micros}_{number}"


def _after(cursor: str, *, by_value: bool = False) -> tuple[Any, int]:
    if cursor.startswith("p"):
        if not re.fullmatch(PRIORITY_CURSOR_PATTERN, cursor):
            raise InvalidInput(
                f"cursor: {cursor!r} is not a cursor of the queue by priority; pass "
                "next_cursor from the previous page"
            )
        points, number = cursor[1:].split("_")
        return int(points), int(number)
    if by_value:
        if not re.fullmatch(VALUE_CURSOR_PATTERN, cursor):
            raise InvalidInput(
                f"cursor: {cursor!r} is not a cursor of the queue by value; pass next_cursor "
                "from the previous page"
            )
        value, number = cursor[1:].split("_")
        if int(value) > VALUE_MICROS_MAX:
            raise InvalidInput(f"cursor: {cursor!r} points past any case's value; start again")
        return int(value), int(number)
    if not re.fullmatch(QUEUE_CURSOR_PATTERN, cursor):
        raise InvalidInput(
            f"cursor: {cursor!r} is not a queue cursor from this API; pass next_cursor from "
            "the previous page"
        )
    micros, number = cursor[1:].split("_")
    try:
        at = _EPOCH + timedelta(microseconds=int(micros))
    except OverflowError:
        raise InvalidInput(f"cursor: {cursor!r} points past any date; start again") from None
    return at, int(number)


async def queue(
    reads: PublicCaseReads,
    principal: Principal,
    filters: QueueFilter,
    *,
    now: datetime,
    limit: int,
    cursor: str | None = None,
    policy: Policy | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the cases waiting for review, oldest first, in their public view
    (`public_view`), and the next page's cursor.

    Every filter is a condition in the query and the page is a keyset walk on
    (updated_at, number), so a page costs the same at ten thousand cases or a million.
    """
    principal.require(Role.REVIEWER, Role.ADMIN)
    _one_of(filters.status, QUEUE_STATUSES, "status")
    _one_of(filters.network_class, QUEUE_CLASSES, "network_class")
    _one_of(filters.holder, QUEUE_HOLDERS, "holder")
    _one_of(filters.sort, QUEUE_SORTS, "sort")
    # A cursor goes on with the walk it came from; `sort` orders the first page.
    order = {"v": "value", "p": "priority"}.get(cursor[:1], "age") if cursor else filters.sort
    by_value, by_priority = order == "value", order == "priority"
    if filters.network_class is not None and policy is None:
        raise ValueError("a class filter needs the policy")
    query = QueueQuery(
        status=filters.status,
        # An empty filter is no filter, as the query string `network=` always meant.
        network=filters.network or None,
        case_type=filters.case_type or None,
        older_at=now - filters.older_than if filters.older_than else None,
        min_micros=None if filters.min_value is None else micros(filters.min_value, ROUND_CEILING),
        # The stored value is rounded down, the bound up: a case exactly at it stays in.
        max_micros=None if filters.max_value is None else micros(filters.max_value, ROUND_CEILING),
        class_networks=(
            class_networks(policy, filters.network_class)
            if policy is not None and filters.network_class
            else None
        ),
        holder=filters.holder,
        me=principal.subject,
        lapse_at=now - REVIEW_CLAIM_LAPSE,
        by_value=by_value,
        queue=filters.queue or None,
        by_priority=by_priority,
        queues=None if filters.queue else filters.queues,
        after=None if cursor is None else _after(cursor, by_value=by_value),
    )
    rows = await reads.in_review(query, limit=limit + 1)
    page = rows[:limit]
    views = [public_view(row) for row in page]
    cursor_out = None
    if len(rows) > limit:
        last = page[-1]
        if by_priority:
            cursor_out = f"p{last['priority']}_{last['number']}"
        elif by_value:
            # The stored value_micros, as `Case.value_micros` derives it from the verdict.
            verdict = views[-1].get("verdict")
            value = getattr(verdict, "value", None)
            stored = 0 if value is None else micros(Decimal(str(value)), ROUND_FLOOR)
            cursor_out = f"v{stored}_{last['number']}"
        else:
            cursor_out = _queue_cursor(last["updated_at"], last["number"])
    return views, cursor_out


def _require_in_review(case: Case) -> None:
    if case.status != CaseStatus.IN_REVIEW:
        raise InvalidTransition(
            f"case {case.reference} is {case.status}; reviewers decide only cases in_review"
        )


def _hold(case: Case, principal: Principal, now: datetime) -> None:
    """Hold the case for this reviewer; another's hold lapses after REVIEW_CLAIM_LAPSE."""
    held_since = case.review_claimed_at
    if (
        case.reviewer not in (None, principal.subject)
        and held_since is not None
        and now < held_since + REVIEW_CLAIM_LAPSE
    ):
        until = (held_since + REVIEW_CLAIM_LAPSE).isoformat()
        raise ClaimedByAnother(
            f"case {case.reference} is being reviewed by {case.reviewer} (until {until} "
            "unless they decide first); pick another case"
        )
    case.reviewer = principal.subject
    case.review_claimed_at = now


def claim(session: Session, principal: Principal, case_id: str, *, now: datetime) -> Case:
    """Take a case off the queue so that no other reviewer works it at the same time."""
    case = get_case(session, principal, case_id, CaseAction.CLAIM)
    _require_in_review(case)
    _hold(case, principal, now)
    CaseRepository(session).save(case)
    return case


def release(session: Session, principal: Principal, case_id: str, *, now: datetime) -> Case:
    """Give back a case this reviewer holds, so that another may take it."""
    case = get_case(session, principal, case_id, CaseAction.CLAIM)
    _require_in_review(case)
    if case.reviewer != principal.subject:
        holder = f"is held by {case.reviewer}" if case.reviewer else "is held by nobody"
        raise ClaimedByAnother(f"case {case.reference} {holder}; only its holder releases it")
    case.reviewer = None
    case.review_claimed_at = None
    CaseRepository(session).save(case)
    return case


def needs_proof(case: Case, policy: Policy, now: datetime) -> str | None:
    """Why the case needs proof of ownership before approval, or None."""
    sender = (case.facts or {}).get("sender")
    if sender and sender.lower() != case.refund_address.lower():
        return f"the refund address {case.refund_address} is not the sender {sender}"
    verdict = judge_case(policy, case, now=now)
    for condition in verdict.conditions:
        if condition.id == "ownership_proof":
            return condition.detail
    return None


def unacknowledged_flags(
    case: Case, policy: Policy, now: datetime, acknowledged: Collection[str]
) -> list[tuple[str, str]]:
    """The review flags (id, detail) of the case's verdict that `acknowledged` leaves out.

    Read from the stored verdict and from a fresh one, so that neither an older stored
    verdict nor a changed policy lets a flag slip through.
    """
    stored = case.verdict or {}
    details = {
        str(c.get("id")): str(c.get("detail", ""))
        for c in stored.get("conditions", [])
        if isinstance(c, dict)
    }
    flags = {str(f): details.get(str(f), "") for f in stored.get("review_flags", [])}
    fresh = judge_case(policy, case, now=now)
    for condition in fresh.conditions:
        if condition.id in fresh.review_flags:
            flags[condition.id] = condition.detail
    return [(flag, detail) for flag, detail in sorted(flags.items()) if flag not in acknowledged]


def approve(
    session: Session,
    policy: Policy,
    principal: Principal,
    case_id: str,
    *,
    now: datetime,
    acknowledged: Collection[str] = (),
) -> Case:
    """Approve; above the policy's threshold two different reviewers must approve.

    Each of the verdict's review flags must be in `acknowledged`: nobody approves a
    deposit address holding code without saying they saw it.
    """
    case = get_case(session, principal, case_id, CaseAction.APPROVE)
    _require_in_review(case)
    _hold(case, principal, now)
    if principal.subject in case.approvals:
        raise AlreadyApproved(
            f"you already approved case {case.reference}; a different reviewer must approve it"
        )
    flags = unacknowledged_flags(case, policy, now, acknowledged)
    if flags:
        raise ReviewFlagNotAcknowledged(
            f"case {case.reference} needs a reviewer to look at: "
            f"{'; '.join(f'{flag} ({detail})' for flag, detail in flags)}; approve with "
            f"acknowledge: [{', '.join(flag for flag, _ in flags)}] once you have"
        )
    reason = needs_proof(case, policy, now)
    if reason is not None and case.proven_by is None:
        raise OwnershipNotProven(
            f"case {case.reference} needs proof of ownership ({reason}); the user must sign "
            "the challenge first"
        )
    quote = accepted_quote(session, case)
    if quote is None:
        raise NotQuotable(f"case {case.reference} has no accepted quote")
    two_needed = bool((case.verdict or {}).get("needs_second_approval"))
    case.approvals = [*case.approvals, principal.subject]
    repository = CaseRepository(session)
    if two_needed and len(case.approvals) < 2:
        case.reviewer = None  # free it for the second reviewer
        case.transition(
            CaseStatus.IN_REVIEW,
            actor=principal.actor,
            at=now,
            detail="first approval; the value needs a second, different reviewer",
        )
        repository.save(case)
        return case
    seen = sorted(set(acknowledged))
    case.transition(
        CaseStatus.APPROVED,
        actor=principal.actor,
        at=now,
        detail=f"approved by {', '.join(case.approvals)}; payout of {quote.net_amount} base "
        f"units frozen (fee {quote.fee_amount}, quote {quote.id})"
        + (f"; acknowledged: {', '.join(seen)}" if seen else ""),
    )
    repository.save(case)
    _freeze_payout(session, case, quote.id, quote.net_amount, quote.fee_amount, now)
    session.flush()
    return case


def _freeze_payout(
    session: Session, case: Case, quote_id: str, amount: int, fee: int, now: datetime
) -> None:
    """Write down the payout as approved; a case approved again after a reorg reuses it."""
    facts = case.facts or {}
    # A token reached through a front: the quote's simulation chose the contract to call.
    token = str(facts.get("payout_token") or facts.get("token", case.token))
    log_token = facts.get("log_token")
    terms: dict[str, Any] = {
        "network": case.network,
        "token": token,
        "log_token": str(log_token) if log_token and log_token != token else None,
        "source": case.deposit_address,
        "destination": case.refund_address,
        "amount": amount,
        "fee_amount": fee,
        "quote_id": quote_id,
    }
    payout = session.scalars(
        select(PayoutRow).where(col(PayoutRow.case_id) == case.id)
    ).one_or_none()
    if payout is None:
        session.add(PayoutRow(id=str(uuid.uuid4()), case_id=case.id, created_at=now, **terms))
    else:
        signed = session.scalars(
            select(col(PayoutTransactionRow.tx_hash)).where(
                col(PayoutTransactionRow.payout_id) == payout.id,
                col(PayoutTransactionRow.kind) == "transfer",
            )
        ).first()
        if signed is not None:
            raise PayoutAlreadySigned(
                f"case {case.reference} already has a signed payout {signed}; an operator "
                "must settle it before the case is paid again"
            )
        payout.sqlmodel_update(terms)
    session.flush()


def reject(
    session: Session,
    principal: Principal,
    case_id: str,
    *,
    reason_code: str,
    note: str,
    now: datetime,
) -> Case:
    """Reject with a reason code and a note the user reads."""
    if reason_code not in REJECTABLE:
        raise UnknownReasonCode(
            f"reason_code: {reason_code!r} is not a rejection code; use one of "
            f"{', '.join(sorted(REJECTABLE))}"
        )
    case = get_case(session, principal, case_id, CaseAction.REJECT)
    _hold(case, principal, now)
    case.transition(
        CaseStatus.REJECTED,
        actor=principal.actor,
        at=now,
        reason_code=reason_code,
        detail=note,
        message=note,
    )
    case.reviewer = None
    CaseRepository(session).save(case)
    return case


def request_info(
    session: Session, principal: Principal, case_id: str, *, question: str, now: datetime
) -> Case:
    """Ask the user a question; the case waits for the answer until a deadline."""
    case = get_case(session, principal, case_id, CaseAction.ASK)
    _hold(case, principal, now)
    case.transition(
        CaseStatus.NEEDS_INFO, actor=principal.actor, at=now, detail=question, message=question
    )
    case.question = question
    case.answer = None
    case.reviewer = None
    case.deadline_at = now + INFO_DEADLINE
    CaseRepository(session).save(case)
    return case


def answer_info(
    session: Session, principal: Principal, case_id: str, *, answer: str, now: datetime
) -> Case:
    """The user's answer; the case is verified again from the chain."""
    case = get_case(session, principal, case_id, CaseAction.ANSWER)
    case.transition(CaseStatus.VERIFYING, actor=principal.actor, at=now, detail=answer)
    case.answer = answer
    case.deadline_at = None
    case.approvals = []
    CaseRepository(session).save(case)
    CaseRepository(session).due_now(case.id, now)
    return case


def recheck(session: Session, principal: Principal, case_id: str, *, now: datetime) -> Case:
    """Verify an in-review case again from the chain (its quote and approvals are dropped)."""
    case = get_case(session, principal, case_id, CaseAction.RECHECK)
    _require_in_review(case)
    _hold(case, principal, now)
    case.transition(
        CaseStatus.VERIFYING,
        actor=principal.actor,
        at=now,
        detail="a reviewer asked for the chain to be read again before deciding",
    )
    case.approvals = []
    case.reviewer = None
    case.deadline_at = None
    repository = CaseRepository(session)
    repository.save(case)
    repository.due_now(case.id, now)
    return case
