"""Reason codes: why a case was refused or moved, in words a user and a reviewer share."""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    """A machine-readable reason carried by an event or an error."""

    TX_NOT_FOUND = "tx_not_found"
    TX_FAILED = "tx_failed"
    NOT_OUR_DEPOSIT_ADDRESS = "not_our_deposit_address"
    ADDRESS_NOT_CLAIMANTS = "address_not_claimants"
    TOKEN_MISMATCH = "token_mismatch"
    AMOUNT_MISMATCH = "amount_mismatch"
    NETWORK_UNSUPPORTED = "network_unsupported"
    PAIR_UNSUPPORTED = "pair_unsupported"
    DEPOSIT_ADDRESS_IS_CONTRACT = "deposit_address_is_contract"
    INTERNAL_TRANSFER_UNVERIFIABLE = "internal_transfer_unverifiable"
    BELOW_MINIMUM_VALUE = "below_minimum_value"
    FEE_EXCEEDS_VALUE = "fee_exceeds_value"
    DUPLICATE_CLAIM = "duplicate_claim"
    OWNERSHIP_NOT_PROVEN = "ownership_not_proven"
    ALREADY_CREDITED = "already_credited"
    TOKEN_NOT_TRANSFERABLE = "token_not_transferable"
    REVIEWER_REJECTED = "reviewer_rejected"
    # The payout path: held before signing, or judged by its effect on chain.
    DEPOSIT_BALANCE_SHORT = "deposit_balance_short"
    PAYOUT_HAD_NO_EFFECT = "payout_had_no_effect"
    PAYOUT_REVERTED = "payout_reverted"
    PAYOUT_SHORTFALL = "payout_shortfall"
    PAYOUT_STALLED = "payout_stalled"
    PAYOUT_REORGED = "payout_reorged"
    PAYOUT_OUTCOME_UNKNOWN = "payout_outcome_unknown"
    OPERATOR_DECISION = "operator_decision"
    # Moves that are not refusals.
    FILED = "filed"
    CANCELLED_BY_USER = "cancelled_by_user"
    REORGED = "reorged"
    QUOTE_EXPIRED = "quote_expired"
    INFO_EXPIRED = "info_expired"
