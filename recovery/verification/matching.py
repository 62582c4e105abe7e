"""Does the transaction on chain back the claim? Pure: chain facts and the claim in, outcome out.

A claim covers either every transfer of its token to its deposit address in the
transaction (the amount is their sum) or the Transfer logs the appeal names. Native value
counts as one transfer per address (marker log index -1): the top-level value, plus what
contracts moved into the address during the transaction when a call trace shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from chains.base import NativeMove, TokenTransfer, TransactionFacts, value_into
from recovery.domain.case import NATIVE, NATIVE_LOG_INDEX, Case

__all__ = ["NATIVE_LOG_INDEX", "Matched", "NativeEvidence", "Refused", "match", "needs_trace"]


@dataclass(frozen=True)
class NativeEvidence:
    """What the chain showed beyond a transaction's top level, for a native claim.

    `runs_code`: the transaction ran contract code (its recipient holds code, or it
    created a contract), so a contract may have moved native value; None: not known.
    `moves`: native value moved by every call frame (a call trace); None: not read.
    `traces`: whether the network's nodes give call traces.
    """

    runs_code: bool | None = None
    moves: tuple[NativeMove, ...] | None = None
    traces: bool = False


@dataclass(frozen=True)
class Matched:
    """The transfers the claim covers: asset, their sum, sender and where they sit on chain."""

    token: str
    amount: int
    sender: str
    log_indexes: tuple[int, ...]
    block_number: int
    block_hash: str
    # (log index, amount) of each transfer covered; one entry for native value.
    parts: tuple[tuple[int, int], ...] = ()
    # Native value that arrived (partly) through contract calls, read from a call trace.
    internal: bool = False
    # The contract that emitted the Transfer logs when it is not the token the user named
    # (a token reached through a front contract); None when they are the same.
    log_token: str | None = None

    @property
    def log_index(self) -> int:
        """The first transfer's log index (the single-transfer view)."""
        return self.log_indexes[0]


@dataclass(frozen=True)
class Refused:
    """The chain rules the claim out, with a reason code and the values that show why."""

    reason_code: str
    detail: str


def needs_trace(case: Case, tx: TransactionFacts, runs_code: bool | None) -> bool:
    """True when only a call trace can tell what native value `tx` moved to the address."""
    return case.token == NATIVE and tx.status == "success" and runs_code is not False


def match(
    case: Case, tx: TransactionFacts, native: NativeEvidence | None = None
) -> Matched | Refused:
    """Find the transfers `case` claims within `tx`, or say why they are not there."""
    if tx.status == "failed":
        return Refused(
            "tx_failed", f"transaction {tx.tx_hash} failed on {case.network}; nothing arrived"
        )
    if case.token == NATIVE:
        return _native(case, tx, native or NativeEvidence())
    chosen = _token_transfers(case, tx)
    if isinstance(chosen, Refused):
        return chosen
    emitter = chosen[0].token
    front = emitter.lower() != case.token.lower()
    found = Matched(
        token=case.token if front else emitter,
        log_token=emitter if front else None,
        amount=sum(t.value for t in chosen),
        sender=chosen[0].sender,
        log_indexes=tuple(t.log_index for t in chosen),
        block_number=tx.block_number,
        block_hash=tx.block_hash,
        parts=tuple((t.log_index, t.value) for t in chosen),
    )
    return _checked_amount(case, tx, found)


def _native(case: Case, tx: TransactionFacts, native: NativeEvidence) -> Matched | Refused:
    deposit = case.deposit_address.lower()
    top_level = tx.native_value if (tx.recipient or "").lower() == deposit else 0
    if native.moves is not None:
        # The trace's first frame is the top-level value: it counts everything once.
        amount = value_into(native.moves, deposit)
        if amount == 0:
            return Refused(
                "not_our_deposit_address",
                f"transaction {tx.tx_hash} moved no {case.network} native coin to "
                f"{case.deposit_address}: neither its top-level value nor any call frame of "
                "its trace paid that address",
            )
    elif top_level > 0:
        amount = top_level
    elif native.runs_code is False:
        return Refused(
            "not_our_deposit_address",
            f"transaction {tx.tx_hash} sent no {case.network} native coin to "
            f"{case.deposit_address} (it went to {tx.recipient}, an account without code)",
        )
    else:
        called = f"it called {tx.recipient}" if tx.recipient else "it created a contract"
        return Refused(
            "internal_transfer_unverifiable",
            f"transaction {tx.tx_hash} sent no top-level {case.network} native coin to "
            f"{case.deposit_address} ({called}); a contract may have sent it on, but internal "
            f"transfers cannot be verified on {case.network}, whose nodes give no call trace",
        )
    found = Matched(
        token=NATIVE,
        amount=amount,
        sender=tx.sender,
        log_indexes=(NATIVE_LOG_INDEX,),
        block_number=tx.block_number,
        block_hash=tx.block_hash,
        parts=((NATIVE_LOG_INDEX, amount),),
        internal=amount != top_level,
    )
    return _checked_amount(case, tx, found)


def _token_transfers(case: Case, tx: TransactionFacts) -> tuple[TokenTransfer, ...] | Refused:
    deposit = case.deposit_address.lower()
    token = case.token.lower()
    if case.named_log_indexes is not None:
        by_index = {t.log_index: t for t in tx.transfers}
        chosen = []
        for index in case.named_log_indexes:
            transfer = by_index.get(index)
            if transfer is None:
                return Refused(
                    "not_our_deposit_address",
                    f"transaction {tx.tx_hash} has no ERC-20 Transfer log with index {index}; "
                    f"its Transfer logs to {case.deposit_address}: "
                    f"{_listing(tx.transfers_to(case.deposit_address))}",
                )
            if transfer.recipient.lower() != deposit:
                return Refused(
                    "not_our_deposit_address",
                    f"log {index} of transaction {tx.tx_hash} moved {transfer.token} to "
                    f"{transfer.recipient}, not to {case.deposit_address}",
                )
            if transfer.token.lower() != token and not _through_front(case, tx, (transfer,)):
                return Refused(
                    "token_mismatch",
                    f"log {index} of transaction {tx.tx_hash} moved {transfer.token} to "
                    f"{case.deposit_address}, not {case.token}",
                )
            chosen.append(transfer)
        return tuple(chosen)
    arriving = tx.transfers_to(case.deposit_address)
    if not arriving:
        return Refused(
            "not_our_deposit_address",
            f"transaction {tx.tx_hash} moved no tokens to {case.deposit_address}",
        )
    of_token = tuple(t for t in arriving if t.token.lower() == token)
    if not of_token and _through_front(case, tx, arriving):
        return arriving
    if not of_token:
        seen = ", ".join(sorted({t.token for t in arriving}))
        return Refused(
            "token_mismatch",
            f"transaction {tx.tx_hash} sent {seen} to {case.deposit_address}, not {case.token}",
        )
    return of_token


def _through_front(case: Case, tx: TransactionFacts, transfers: tuple[TokenTransfer, ...]) -> bool:
    """True when the user called the token they named and its logs came from one other
    contract: a token reached through a front, whose ledger emits the Transfer logs."""
    emitters = {t.token.lower() for t in transfers}
    return (
        (tx.recipient or "").lower() == case.token.lower()
        and len(emitters) == 1
        and case.token.lower() not in emitters
    )


def _listing(transfers: tuple[TokenTransfer, ...]) -> str:
    if not transfers:
        return "none"
    return ", ".join(f"log {t.log_index} ({t.value} of {t.token})" for t in transfers)


def _checked_amount(case: Case, tx: TransactionFacts, found: Matched) -> Matched | Refused:
    if case.claimed_amount is None or case.claimed_amount == found.amount:
        return found
    detail = (
        f"the claim says {case.claimed_amount} base units but transaction {tx.tx_hash} "
        f"delivered {found.amount}"
    )
    if len(found.parts) > 1:
        each = ", ".join(f"log {index}: {value}" for index, value in found.parts)
        detail += (
            f" in {len(found.parts)} transfers ({each}); a claim covers all of them unless "
            "it names the ones it claims in log_indexes"
        )
    return Refused("amount_mismatch", detail)
