"""Reason codes the policy engine gives for a refusal or a failed condition."""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    """Machine-readable reasons; the shared list is in DESIGN.md, extras are noted below."""

    NETWORK_UNSUPPORTED = "network_unsupported"
    PAIR_UNSUPPORTED = "pair_unsupported"
    # Added: the transfer went over the network the deposit address was opened for.
    SAME_NETWORK = "same_network"
    ALREADY_CREDITED = "already_credited"
    BELOW_MINIMUM_VALUE = "below_minimum_value"
    FEE_EXCEEDS_VALUE = "fee_exceeds_value"
    DEPOSIT_ADDRESS_IS_CONTRACT = "deposit_address_is_contract"
    # Added: native value reached the deposit address only inside a contract's execution,
    # and the network's nodes give no call trace to verify it by.
    INTERNAL_TRANSFER_UNVERIFIABLE = "internal_transfer_unverifiable"
    OWNERSHIP_NOT_PROVEN = "ownership_not_proven"
    TOKEN_NOT_TRANSFERABLE = "token_not_transferable"
    # Added: the transfer is older than a network's max_age_days condition allows.
    TRANSFER_TOO_OLD = "transfer_too_old"
