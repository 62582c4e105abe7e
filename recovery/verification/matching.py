"""Does the transaction on chain back the claim? Pure: chain facts and the claim in, outcome out."""

from __future__ import annotations

from dataclasses import dataclass

from chains.base import TransactionFacts
from recovery.domain.case import NATIVE, Case

# The log index stored for a native transfer, which has no log.
NATIVE_LOG_INDEX = -1


@dataclass(frozen=True)
class Matched:
    """The transfer the claim names: asset, amount, sender and where it sits on chain."""

    token: str
    amount: int
    sender: str
    log_index: int
    block_number: int
    block_hash: str


@dataclass(frozen=True)
class Refused:
    """The chain rules the claim out, with a reason code and the values that show why."""

    reason_code: str
    detail: str


def match(case: Case, tx: TransactionFacts) -> Matched | Refused:
    """Find the transfer `case` claims within `tx`, or say why it is not there."""
    if tx.status == "failed":
        return Refused(
            "tx_failed", f"transaction {tx.tx_hash} failed on {case.network}; nothing arrived"
        )
    deposit = case.deposit_address.lower()
    if case.token == NATIVE:
        if (tx.recipient or "").lower() != deposit or tx.native_value == 0:
            return Refused(
                "not_our_deposit_address",
                f"transaction {tx.tx_hash} sent no {case.network} native coin to "
                f"{case.deposit_address} (it went to {tx.recipient})",
            )
        return _checked_amount(
            case, tx, Matched(NATIVE, tx.native_value, tx.sender, NATIVE_LOG_INDEX, 0, "")
        )
    arriving = tx.transfers_to(case.deposit_address)
    if not arriving:
        return Refused(
            "not_our_deposit_address",
            f"transaction {tx.tx_hash} moved no tokens to {case.deposit_address}",
        )
    of_token = [t for t in arriving if t.token.lower() == case.token.lower()]
    if not of_token:
        seen = ", ".join(sorted({t.token for t in arriving}))
        return Refused(
            "token_mismatch",
            f"transaction {tx.tx_hash} sent {seen} to {case.deposit_address}, not {case.token}",
        )
    chosen = of_token[0]
    if case.claimed_amount is not None:
        # Several transfers of one token to one address: take the one the user named.
        chosen = next((t for t in of_token if t.value == case.claimed_amount), chosen)
    return _checked_amount(
        case, tx, Matched(chosen.token, chosen.value, chosen.sender, chosen.log_index, 0, "")
    )


def _checked_amount(case: Case, tx: TransactionFacts, found: Matched) -> Matched | Refused:
    if case.claimed_amount is not None and case.claimed_amount != found.amount:
        return Refused(
            "amount_mismatch",
            f"the claim says {case.claimed_amount} base units but transaction {tx.tx_hash} "
            f"delivered {found.amount}",
        )
    return Matched(
        token=found.token,
        amount=found.amount,
        sender=found.sender,
        log_index=found.log_index,
        block_number=tx.block_number,
        block_hash=tx.block_hash,
    )
