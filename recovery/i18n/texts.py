"""The texts users read, in English: the source of the message catalogues.

Each is a gettext message id; `recovery/i18n/catalogues/<lang>/LC_MESSAGES/messages.po`
holds its translation per language, and a test fails when one lacks any of them.
"""

from __future__ import annotations

# What each reason code means to a user (the code itself stays stable and English).
REASON_TEXTS: dict[str, str] = {
    "tx_not_found": "The transaction could not be found on the network you named.",
    "tx_failed": "The transaction failed on the chain, so nothing arrived.",
    "not_our_deposit_address": "The transfer did not go to a deposit address of yours on "
    "that network.",
    "address_not_claimants": "The deposit address is not one of yours.",
    "token_mismatch": "The token that arrived is not the one the appeal names.",
    "amount_mismatch": "The amount that arrived is not the amount the appeal names.",
    "network_unsupported": "Transfers on this network cannot be recovered.",
    "pair_unsupported": "A transfer between these two networks cannot be recovered.",
    "deposit_address_is_contract": "The deposit address is a contract on that network, so "
    "its key cannot move the funds.",
    "internal_transfer_unverifiable": "The coin was moved by a contract, and this network's "
    "nodes cannot show it.",
    "below_minimum_value": "The amount is below the minimum value for a recovery.",
    "fee_exceeds_value": "The recovery fee would be more than the amount that arrived.",
    "duplicate_claim": "This transfer is already claimed by another case.",
    "ownership_not_proven": "Ownership of the sending wallet is not proven yet.",
    "already_credited": "The deposit was already credited to your account.",
    "token_not_transferable": "The token cannot be transferred at the moment.",
    "reviewer_rejected": "The appeals team rejected the case.",
    "deposit_balance_short": "The deposit address holds less than the refund needs; the "
    "appeals team is checking it.",
    "payout_had_no_effect": "The refund transaction moved nothing; an operator is looking into it.",
    "payout_reverted": "The refund transaction failed on the chain; an operator is looking "
    "into it.",
    "payout_shortfall": "Less arrived than was sent: the token keeps part of each transfer.",
    "payout_stalled": "The refund transaction has waited too long; an operator is checking it.",
    "payout_reorged": "The refund's block was replaced on the chain; it is tracked again.",
    "payout_outcome_unknown": "The refund's outcome is being checked on the chain; it is "
    "never sent twice.",
    "operator_decision": "An operator settled the refund after checking the chain.",
    "filed": "The appeal was filed.",
    "cancelled_by_user": "You withdrew the case.",
    "reorged": "The deposit's block changed on the chain; the case is checked again.",
    "quote_expired": "The fee quote expired; you may ask for a new one.",
    "info_expired": "The question from the appeals team was not answered in time.",
    "escalated": "Your case waited longer than our target; it moved to senior reviewers.",
}

# How to prove ownership: shown with the challenge to sign.
CHALLENGE_HOW = (
    "Sign this message with the wallet that sent the transfer (personal_sign), then send "
    "the signature. Never share your private key or seed phrase: we will never ask for them."
)
