"""What a claimant reads about each event of their case, in plain words.

Staff events (a reviewer's decision, an operator's settlement) keep their full detail,
names and internal notes for staff; the claimant reads the words the actor wrote for them
(a rejection note, a question) or, without such words, what the new state means.
"""

from __future__ import annotations

from recovery.domain.case import CaseEvent
from recovery.domain.states import CaseStatus

S = CaseStatus

STATE_WORDS: dict[CaseStatus, str] = {
    S.SUBMITTED: "Your appeal was received.",
    S.VERIFYING: "The transaction is being checked on the chain.",
    S.CONFIRMING: "The transfer was found; it is waiting for confirmations.",
    S.QUOTED: "A fee quote is ready; accept it to send the case to the appeals team.",
    S.IN_REVIEW: "The appeals team is reviewing your case.",
    S.NEEDS_INFO: "The appeals team has a question for you.",
    S.APPROVED: "Your case was approved; the refund is being prepared.",
    S.ON_HOLD: "The deposit's block changed on the chain; the case is checked again before "
    "any refund.",
    S.PAYOUT_PENDING: "The refund is being sent.",
    S.PAYOUT_SENT: "The refund transaction was sent; it is waiting to be final.",
    S.PAID: "The refund arrived at your refund address.",
    S.PAYOUT_FAILED: "The refund did not go through; an operator is looking into it.",
    S.QUARANTINED: "The refund is held while an operator checks it on the chain; it is never "
    "sent twice.",
    S.REJECTED: "Your case was rejected.",
    S.EXPIRED: "Your case expired.",
    S.CANCELLED: "Your case was withdrawn.",
}

# Actors whose detail the claimant reads as written: the chain checks, and the claimant.
_PUBLIC_ACTORS = ("system:", "user:")


def is_staff(actor: str) -> bool:
    """True for a reviewer's or an operator's event (its detail is for staff)."""
    return not actor.startswith(_PUBLIC_ACTORS)


def user_message(event: CaseEvent) -> str:
    """The words the claimant reads for `event`; never a staff note."""
    if event.message is not None:
        return event.message
    if not is_staff(event.actor):
        return event.detail
    return STATE_WORDS[event.to_status]


def user_actor(actor: str) -> str:
    """Who acted, as the claimant sees it: a reviewer's or operator's role, not their name."""
    return actor.split(":", 1)[0] if is_staff(actor) else actor
