"""Issuing, accepting and renewing fee quotes."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from policies import Policy
from recovery.access.case_rules import CaseAction
from recovery.access.keys import Principal
from recovery.appeals.repository import CaseRepository
from recovery.appeals.service import get_case
from recovery.appeals.verdicts import judge_case, verdict_dict
from recovery.db.tables import QuoteRow
from recovery.domain.case import Case
from recovery.domain.states import CaseStatus
from recovery.review.errors import NotQuotable, QuoteExpired, QuoteNotFound, QuoteSuperseded


def issue_quote(session: Session, case: Case, *, now: datetime) -> QuoteRow:
    """Record the quote in `case.verdict` as the case's open quote; older ones (open, or
    accepted before a reorg sent the case back) are superseded.

    The quote's amounts are frozen here: a later policy change never alters them.
    """
    quote = (case.verdict or {}).get("quote")
    if not quote:
        raise NotQuotable(f"case {case.reference} has no quote: {_summary(case)}")
    session.execute(
        update(QuoteRow)
        .where(col(QuoteRow.case_id) == case.id, col(QuoteRow.state).in_(["open", "accepted"]))
        .values(state="superseded")
    )
    row = QuoteRow(
        id=f"q_{secrets.token_hex(8)}",
        case_id=case.id,
        issued_at=now,
        valid_until=datetime.fromisoformat(quote["valid_until"]),
        gross_amount=int(quote["gross_amount"]),
        fee_amount=int(quote["fee_amount"]),
        net_amount=int(quote["net_amount"]),
        body=quote,
        state="open",
    )
    session.add(row)
    session.flush()
    quote["id"] = row.id
    case.verdict = {**(case.verdict or {}), "quote": quote}
    case.quote_id = row.id
    case.deadline_at = row.valid_until
    # A new quote is a new decision: earlier approvals were about another quote.
    case.approvals = []
    case.reviewer = None
    return row


def _summary(case: Case) -> str:
    return str((case.verdict or {}).get("summary", "the case is not verified yet"))


def accept(
    session: Session, principal: Principal, case_id: str, quote_id: str, *, now: datetime
) -> Case:
    """Accept the open quote; the case goes to the appeals team."""
    case = get_case(session, principal, case_id, CaseAction.ACCEPT)
    row = session.get(QuoteRow, quote_id)
    if row is None or row.case_id != case.id:
        raise QuoteNotFound(f"case {case.reference} has no quote {quote_id}")
    if row.state == "superseded" or (case.quote_id and case.quote_id != quote_id):
        raise QuoteSuperseded(
            f"quote {quote_id} was replaced by {case.quote_id}; accept the newest quote"
        )
    if now >= row.valid_until:
        raise QuoteExpired(
            f"quote {quote_id} expired at {row.valid_until.isoformat()}; "
            f"ask for a new one with POST /v1/appeals/{case.id}/requote"
        )
    case.transition(
        CaseStatus.IN_REVIEW,
        actor=principal.actor,
        at=now,
        detail=f"accepted quote {quote_id}: fee {row.fee_amount}, net payout {row.net_amount} "
        "base units",
    )
    case.deadline_at = None
    row.state = "accepted"
    CaseRepository(session).save(case)
    return case


def requote(
    session: Session, policy: Policy, principal: Principal, case_id: str, *, now: datetime
) -> Case:
    """A fresh quote for a quoted case, or for one whose quote expired."""
    case = get_case(session, principal, case_id, CaseAction.REQUOTE)
    renewable = case.status == CaseStatus.QUOTED or (
        case.status == CaseStatus.EXPIRED and case.quote_id is not None
    )
    if not renewable or not case.facts:
        raise NotQuotable(
            f"case {case.reference} is {case.status}; a new quote is given only to a quoted "
            "case or one whose quote expired"
        )
    verdict = judge_case(policy, case, now=now)
    if not verdict.eligible or verdict.quote is None:
        raise NotQuotable(f"case {case.reference} can no longer be quoted: {verdict.summary}")
    case.verdict = verdict_dict(verdict)
    case.policy_version = policy.version
    row = issue_quote(session, case, now=now)
    case.transition(
        CaseStatus.QUOTED,
        actor=principal.actor,
        at=now,
        detail=f"new quote {row.id}: fee {row.fee_amount}, net payout {row.net_amount} base "
        f"units, valid until {row.valid_until.isoformat()}",
    )
    CaseRepository(session).save(case)
    return case


def accepted_quote(session: Session, case: Case) -> QuoteRow | None:
    """The quote the user accepted for this case, if any."""
    return session.scalars(
        select(QuoteRow).where(col(QuoteRow.case_id) == case.id, col(QuoteRow.state) == "accepted")
    ).first()
