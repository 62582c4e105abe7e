"""The case (appeal) and its append-only event log."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal, localcontext
from enum import StrEnum
from typing import Any

from recovery.domain.errors import InvalidTransition
from recovery.domain.states import RELEASED_STATES, TRANSITIONS, CaseStatus


class CaseType(StrEnum):
    """What went wrong with the deposit."""

    WRONG_NETWORK = "wrong_network"
    UNLISTED_TOKEN = "unlisted_token"


NATIVE = "native"
# The log index that stands for a transaction's native value into one address (no log).
NATIVE_LOG_INDEX = -1


def micros(value: Decimal, rounding: str) -> int:
    """`value` in millionths, rounded as told, exact for any size (a wide local context)."""
    with localcontext() as context:
        context.prec = 80
        return int((value * 1_000_000).to_integral_value(rounding=rounding))


def reference_of(number: int | None) -> str:
    """The human reference of case number `number`, e.g. `RC-000123`."""
    return f"RC-{number:06d}" if number is not None else "RC-pending"


@dataclass(frozen=True)
class CaseEvent:
    """One state change of a case; written once, never updated or deleted."""

    case_id: str
    seq: int
    from_status: CaseStatus | None
    to_status: CaseStatus
    actor: str
    reason_code: str | None
    # What happened, in full: staff read it (it may name reviewers or hold internal notes).
    detail: str
    created_at: datetime
    # What the claimant reads, when the actor wrote it for them (a rejection note, a
    # question); None: see `domain.messages.user_message`.
    message: str | None = None


@dataclass
class Case:
    """An appeal to recover one mis-sent transfer."""

    id: str
    claimant: str
    case_type: CaseType
    network: str
    opened_for: str | None
    tx_hash: str
    token: str
    deposit_address: str
    refund_address: str
    claimed_amount: int | None
    status: CaseStatus
    created_at: datetime
    updated_at: datetime
    number: int | None = None
    version: int = 0
    facts: dict[str, Any] | None = None
    verdict: dict[str, Any] | None = None
    policy_version: str | None = None
    log_index: int | None = None
    # The Transfer logs the appeal named; None: every transfer of its token to its address.
    named_log_indexes: tuple[int, ...] | None = None
    # The transfers the case covers: named, or found on chain once verified.
    log_indexes: tuple[int, ...] = ()
    check_note: str | None = None
    quote_id: str | None = None
    deadline_at: datetime | None = None
    proof_nonce: str | None = None
    proven_by: str | None = None
    reviewer: str | None = None
    review_claimed_at: datetime | None = None
    approvals: list[str] = field(default_factory=list)
    question: str | None = None
    answer: str | None = None
    queue: str | None = None
    verification_code: str | None = None
    priority: int = 0
    queued_at: datetime | None = None
    escalated_at: datetime | None = None
    pending_events: list[CaseEvent] = field(default_factory=list)
    last_seq: int = 0

    def held_transfers(self) -> tuple[int, ...]:
        """The transfers (log indexes) this case holds on chain now; none once released."""
        return () if self.status in RELEASED_STATES else self.log_indexes

    def filed_transfers(self) -> tuple[int, ...]:
        """What the case covers before the chain is read: its native value, or named logs."""
        if self.token == NATIVE:
            return (NATIVE_LOG_INDEX,)
        return self.named_log_indexes or ()

    @property
    def value_micros(self) -> int | None:
        """The verdict's value in millionths of the quote currency (None: not valued).

        Stored beside the case so the review queue filters value bands in the database;
        rounded down, to the millionth, which is finer than any band a reviewer asks for.
        """
        raw = (self.verdict or {}).get("value")
        return None if raw is None else micros(Decimal(str(raw)), ROUND_FLOOR)

    @property
    def reference(self) -> str:
        """The human reference, e.g. `RC-000123`."""
        return reference_of(self.number)

    def transition(
        self,
        target: CaseStatus,
        *,
        actor: str,
        at: datetime,
        reason_code: str | None = None,
        detail: str = "",
        message: str | None = None,
    ) -> CaseEvent:
        """Move the case to `target` and record the event; refuse moves not in the table.

        `message` is what the claimant reads when a reviewer or an operator acts; without
        one they read the state's plain words, never the staff's `detail`.
        """
        if target not in TRANSITIONS[self.status]:
            allowed = ", ".join(sorted(TRANSITIONS[self.status])) or "none (final state)"
            raise InvalidTransition(
                f"case {self.reference} is {self.status}; it cannot move to {target} "
                f"(allowed from {self.status}: {allowed})"
            )
        event = self._event(self.status, target, actor, at, reason_code, detail, message)
        if target is CaseStatus.IN_REVIEW and self.status is not CaseStatus.IN_REVIEW:
            # The desk's clock starts each time the case comes to it.
            self.queued_at, self.escalated_at = at, None
        self.status = target
        self.updated_at = at
        return event

    def open(self, *, actor: str, at: datetime) -> CaseEvent:
        """Record the filing of the case as its first event."""
        return self._event(None, self.status, actor, at, "filed", "appeal filed")

    def _event(
        self,
        source: CaseStatus | None,
        target: CaseStatus,
        actor: str,
        at: datetime,
        reason_code: str | None,
        detail: str,
        message: str | None = None,
    ) -> CaseEvent:
        self.last_seq += 1
        event = CaseEvent(
            case_id=self.id,
            seq=self.last_seq,
            from_status=source,
            to_status=target,
            actor=actor,
            reason_code=reason_code,
            detail=detail,
            created_at=at,
            message=message,
        )
        self.pending_events.append(event)
        return event
