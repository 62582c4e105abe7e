"""Routing cases to the desk's queues, and escalating the ones past their queue's target.

The rules are policy data (`policies/data/queues.yaml`, `policies.routing`); this module
reads a case's verdict into the traits the rules look at, stores the route on the case,
and runs the escalation job. Services never commit; the job ends its own transactions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, or_, select
from sqlmodel import col

from policies import Policy
from policies.routing import CaseTraits, Route, Routing, load_routing, priority, route
from recovery.appeals.repository import CaseRepository
from recovery.db.engine import Database
from recovery.db.tables import ApiKeyRow, CaseRow, ReviewerQueueRow
from recovery.domain.case import Case
from recovery.domain.states import CaseStatus
from recovery.errors import InvalidInput, NotFound, RecoveryError
from recovery.metrics import desk_waiting

SYSTEM = "system:desk"


def traits_of(policy: Policy, case: Case) -> CaseTraits:
    """What the routing rules look at, from the case's verdict and network."""
    verdict = case.verdict or {}
    value = verdict.get("value")
    network = policy.networks.get(case.network)
    return CaseTraits(
        case_type=case.case_type.value,
        network_class=str(verdict.get("network_class") or ""),
        family=network.family.value if network else "",
        value=None if value is None else Decimal(str(value)),
        conditions=tuple(str(c.get("id")) for c in verdict.get("conditions") or ()),
        flags=tuple(verdict.get("review_flags") or ()),
    )


def route_case(policy: Policy, case: Case, routing: Routing | None = None) -> Route:
    """Put the case in the queue its verdict routes it to, with its priority; an
    escalated case keeps its senior queue and its escalation points."""
    routing = routing or load_routing()
    traits = traits_of(policy, case)
    found = route(routing, traits)
    escalated = case.escalated_at is not None
    if not escalated:
        case.queue = found.queue
    case.priority = priority(routing, traits, escalated=escalated)
    return found


def describe(route_taken: Route, routing: Routing | None = None) -> str:
    """The route in words, for an event's detail."""
    routing = routing or load_routing()
    queue = routing.queues[route_taken.queue]
    return f"queue {route_taken.queue} ({queue.name}; {route_taken.reason})"


def escalate_cycle(
    database: Database, policy: Policy, clock: Callable[[], datetime], limit: int = 500
) -> int:
    """Escalate the cases in review past their queue's target; return how many moved.

    Each escalation is an event on the case (in_review -> in_review, `escalated`), the
    case goes to the queue its queue escalates to (if any) and gains priority. A case in
    review with no queue yet (filed before routing existed) is routed first.
    """
    routing = load_routing()
    now = clock()
    escalated = 0
    with database.unit_of_work() as session:
        ids = list(
            session.scalars(
                select(col(CaseRow.id))
                .where(
                    col(CaseRow.status) == CaseStatus.IN_REVIEW.value,
                    col(CaseRow.escalated_at).is_(None),
                    or_(col(CaseRow.queue).is_(None), col(CaseRow.queued_at).is_not(None)),
                )
                .order_by(col(CaseRow.queued_at))
                .limit(limit)
            )
        )
    for case_id in ids:
        try:
            with database.unit_of_work() as session:
                repository = CaseRepository(session)
                case = repository.get(case_id)
                if case is None or case.status != CaseStatus.IN_REVIEW:
                    continue
                if case.queue is None:
                    route_case(policy, case, routing)
                    case.queued_at = case.queued_at or case.updated_at
                    repository.save(case)
                    continue
                queue = routing.queues.get(case.queue)
                if queue is None or case.queued_at is None or case.escalated_at is not None:
                    continue
                waited = now - case.queued_at
                if waited <= queue.target:
                    continue
                target = queue.escalate_to or case.queue
                minutes = int(waited.total_seconds() // 60)
                case.transition(
                    CaseStatus.IN_REVIEW,
                    actor=SYSTEM,
                    at=now,
                    reason_code="escalated",
                    detail=f"waiting {minutes} min in queue {case.queue} against a target of "
                    f"{queue.target_minutes} min; moved to queue {target}",
                )
                case.escalated_at = now
                case.queue = target
                case.priority = priority(routing, traits_of(policy, case), escalated=True)
                repository.save(case)
                escalated += 1
        except RecoveryError:
            continue  # changed meanwhile (a reviewer decided): looked at again next time
    return escalated


def board(session: Any, now: datetime) -> list[dict[str, Any]]:
    """Every desk queue with its target and what waits in it now."""
    routing = load_routing()
    waiting = desk_waiting(session)
    rows = []
    for queue_id, queue in routing.queues.items():
        since = waiting.get(queue_id, [])
        rows.append(
            {
                "id": queue_id,
                "name": queue.name,
                "target_minutes": queue.target_minutes,
                "escalate_to": queue.escalate_to,
                "senior": queue.senior,
                "waiting": len(since),
                "oldest_since": min(since, default=None),
                "breaches": sum(1 for s in since if now - s > queue.target),
            }
        )
    return rows


class UnknownQueue(InvalidInput):
    """Raised when a request names a desk queue the routing policy does not have."""


class UnknownReviewer(NotFound):
    """Raised when no live reviewer key has the subject a request names."""


def require_reviewer(session: Any, subject: str) -> None:
    """A 404 unless a reviewer key (not revoked) belongs to `subject`."""
    found = session.scalar(
        select(col(ApiKeyRow.id)).where(
            col(ApiKeyRow.subject) == subject,
            col(ApiKeyRow.role) == "reviewer",
            col(ApiKeyRow.revoked_at).is_(None),
        )
    )
    if found is None:
        raise UnknownReviewer(
            f"no reviewer {subject!r}: create a reviewer key for them first (POST /v1/admin/keys)"
        )


def reviewer_queues(session: Any, subject: str, *, check: bool = False) -> list[str]:
    """The desk queues a reviewer belongs to (`check`: a 404 for one with no key)."""
    if check:
        require_reviewer(session, subject)
    return sorted(
        session.scalars(
            select(col(ReviewerQueueRow.queue)).where(col(ReviewerQueueRow.subject) == subject)
        )
    )


def set_reviewer_queues(
    session: Any, subject: str, queues: list[str], *, actor: str, now: datetime
) -> list[str]:
    """Make `queues` the reviewer's queues (an empty list: none, they see every queue)."""
    require_reviewer(session, subject)
    known = load_routing().queues
    unknown = sorted(set(queues) - set(known))
    if unknown:
        raise UnknownQueue(
            f"queues: {', '.join(unknown)} not among the desk's queues: {', '.join(known)}"
        )
    session.execute(delete(ReviewerQueueRow).where(col(ReviewerQueueRow.subject) == subject))
    for queue in sorted(set(queues)):
        session.add(ReviewerQueueRow(subject=subject, queue=queue, added_by=actor, added_at=now))
    session.flush()
    return sorted(set(queues))
