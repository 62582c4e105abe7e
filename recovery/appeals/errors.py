"""Refusals of the appeals feature."""

from __future__ import annotations

from recovery.errors import Conflict, InvalidInput, NotFound


class CaseNotFound(NotFound):
    """Raised when a case does not exist or belongs to someone else."""


class DuplicateClaim(Conflict):
    """Raised when the transfer already backs another live case."""

    reason_code = "duplicate_claim"


class IdempotencyKeyReused(InvalidInput):
    """Raised when an Idempotency-Key comes back with a different request body."""


class AddressNotClaimants(NotFound):
    """Raised when the claimant has no such deposit address (someone else's is not shown)."""

    reason_code = "address_not_claimants"


class NotOurDepositAddress(InvalidInput):
    """Raised when the deposit address was not opened for the network the appeal names."""

    reason_code = "not_our_deposit_address"


class AppealRefused(InvalidInput):
    """Raised when the policy refuses an appeal before any chain lookup."""

    # The policy's refusals that need no chain lookup; the error carries the one that refused.
    reason_codes = ("already_credited", "network_unsupported", "pair_unsupported")
