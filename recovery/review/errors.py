"""Refusals of the review flow."""

from __future__ import annotations

from recovery.errors import Conflict, InvalidInput, NotFound


class QuoteNotFound(NotFound):
    """Raised when a quote id does not belong to the case."""


class QuoteExpired(Conflict):
    """Raised when a quote is accepted after its validity ended."""


class QuoteSuperseded(Conflict):
    """Raised when a quote is accepted after a newer one was issued."""


class NotQuotable(Conflict):
    """Raised when a case cannot be quoted (no verified facts, or no longer eligible)."""


class OwnershipNotProven(Conflict):
    """Raised when a case that needs proof of ownership is approved without it."""

    reason_code = "ownership_not_proven"


class BadSignature(InvalidInput):
    """Raised when a proof signature is malformed or signed by the wrong address."""

    # Signed by another address than the transfer's sender: ownership is not proven.
    reason_codes = ("ownership_not_proven",)


class ClaimedByAnother(Conflict):
    """Raised when another reviewer holds the case."""


class AlreadyApproved(Conflict):
    """Raised when a reviewer approves a case they already approved."""


class UnknownReasonCode(InvalidInput):
    """Raised when a rejection names a reason code the service does not know."""


class PayoutAlreadySigned(Conflict):
    """Raised when a case is approved again while a payout transaction of it exists."""


class ReviewFlagNotAcknowledged(Conflict):
    """Raised when a case is approved without naming a review flag its verdict carries."""
