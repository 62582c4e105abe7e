"""Case states and the one table of transitions between them."""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    """Where a case stands; see DESIGN.md "States"."""

    SUBMITTED = "submitted"
    VERIFYING = "verifying"
    CONFIRMING = "confirming"
    QUOTED = "quoted"
    IN_REVIEW = "in_review"
    NEEDS_INFO = "needs_info"
    APPROVED = "approved"
    ON_HOLD = "on_hold"
    PAYOUT_PENDING = "payout_pending"
    PAYOUT_SENT = "payout_sent"
    PAID = "paid"
    PAYOUT_FAILED = "payout_failed"
    QUARANTINED = "quarantined"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


S = CaseStatus

# Every allowed move. Anything not listed here is refused. Self-loops are listed on
# purpose: a fresh quote on a quoted case, a first approval of a two-approver case.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.SUBMITTED: frozenset({S.VERIFYING, S.CANCELLED}),
    S.VERIFYING: frozenset({S.CONFIRMING, S.REJECTED, S.CANCELLED}),
    # A payout that cannot be simulated, or a deposit address that no longer holds the
    # funds, goes to a reviewer instead of a quote.
    S.CONFIRMING: frozenset({S.QUOTED, S.IN_REVIEW, S.VERIFYING, S.CANCELLED}),
    S.QUOTED: frozenset({S.QUOTED, S.IN_REVIEW, S.EXPIRED, S.VERIFYING, S.CANCELLED}),
    S.IN_REVIEW: frozenset(
        {S.IN_REVIEW, S.APPROVED, S.REJECTED, S.NEEDS_INFO, S.VERIFYING, S.CANCELLED}
    ),
    S.NEEDS_INFO: frozenset({S.VERIFYING, S.EXPIRED, S.CANCELLED}),
    # An expired quote may be renewed; an expired case may still be withdrawn.
    S.EXPIRED: frozenset({S.QUOTED, S.CANCELLED}),
    S.APPROVED: frozenset({S.PAYOUT_PENDING, S.ON_HOLD}),
    S.ON_HOLD: frozenset({S.VERIFYING}),
    # Before anything is signed, a reorged deposit still puts the payout on hold, and a
    # failed simulation or a short deposit balance sends it back to a reviewer.
    # The self-loop: a nonce another transaction took, so the payout is signed anew.
    S.PAYOUT_PENDING: frozenset(
        {S.PAYOUT_PENDING, S.PAYOUT_SENT, S.QUARANTINED, S.ON_HOLD, S.IN_REVIEW}
    ),
    S.PAYOUT_SENT: frozenset({S.PAID, S.PAYOUT_PENDING, S.PAYOUT_FAILED, S.QUARANTINED}),
    # Only an operator moves a case out of these two, on the chain's evidence; the
    # self-loops record an operator's step that needs a second admin to take effect.
    S.PAYOUT_FAILED: frozenset({S.PAYOUT_FAILED, S.PAYOUT_PENDING}),
    S.QUARANTINED: frozenset({S.QUARANTINED, S.PAID, S.PAYOUT_FAILED, S.PAYOUT_PENDING}),
    # A delivered payout whose block is reorged out before it is final is tracked again.
    S.PAID: frozenset({S.PAYOUT_SENT}),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
}

# A case in one of these no longer holds its on-chain transfer: another case may claim it.
RELEASED_STATES: frozenset[CaseStatus] = frozenset({S.REJECTED, S.CANCELLED, S.EXPIRED})

# The user may withdraw a case only before a reviewer has approved it.
CANCELLABLE_STATES: frozenset[CaseStatus] = frozenset(
    state for state, targets in TRANSITIONS.items() if S.CANCELLED in targets
)


def is_allowed(current: CaseStatus, target: CaseStatus) -> bool:
    """True when the transition table lets a case move from `current` to `target`."""
    return target in TRANSITIONS[current]
