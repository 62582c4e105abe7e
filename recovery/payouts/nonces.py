"""Nonces per sending address: allocated from the database, reconciled with the chain.

Rules kept here:
- One writer per address: a conditional UPDATE makes two allocators race safely.
- The counter follows the chain. Before a nonce is handed out, the counter is compared
  with the address's on-chain nonce (`ChainNonces`, read from every endpoint):
  a chain ahead (an outside spend, a transaction signed elsewhere) moves it forward; a
  chain behind it is a gap. A gap whose nonces belong to our own live payouts is closed
  by broadcasting those same signed transactions again (`NonceGap` names them); a gap
  that only holds transactions of settled payouts, seen on complete evidence (every
  endpoint answered), means the chain forgot them (a node reset): the counter moves back.
  Reusing a nonce can never pay twice (one nonce, one mined transaction); a fresh nonce
  while an old signed transaction may still land could, so the counter never skips.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from recovery.db.tables import CaseRow, NonceRow, PayoutRow, PayoutTransactionRow
from recovery.domain.states import CaseStatus

log = logging.getLogger(__name__)

# A payout in one of these may still put its signed transaction on chain.
LIVE_PAYOUT_STATES = frozenset({CaseStatus.PAYOUT_PENDING.value, CaseStatus.PAYOUT_SENT.value})

_SETTLED = frozenset({CaseStatus.PAID.value, CaseStatus.REJECTED.value, CaseStatus.CANCELLED.value})


@dataclass(frozen=True)
class ChainNonces:
    """What the endpoints say of an address's transaction count.

    `pending` and `latest` are the highest any endpoint reported (a lagging endpoint
    reports less); `lowest_pending` and `lowest_latest` the lowest; `complete` is True
    when every endpoint answered.
    """

    pending: int
    latest: int
    lowest_pending: int
    complete: bool
    lowest_latest: int = 0


@dataclass(frozen=True)
class GapTransaction:
    """One of our signed transactions whose nonce the chain does not show as used."""

    payout_id: str
    nonce: int
    tx_hash: str
    raw: str


class NonceGap(Exception):
    """Raised when the chain is behind the counter and the gap must close first."""

    def __init__(
        self, address: str, network: str, detail: str, waiting_on: Sequence[GapTransaction]
    ):
        self.address = address
        self.network = network
        self.waiting_on = tuple(waiting_on)
        super().__init__(detail)


def allocate_nonce(session: Session, network: str, address: str, chain: ChainNonces) -> int:
    """The next nonce of `address` on `network`, reconciled with `chain`, for the caller."""
    key = address.lower()
    for _ in range(20):
        row = session.get(NonceRow, (network, key), populate_existing=True)
        if row is None:
            try:
                with session.begin_nested():
                    session.add(NonceRow(network=network, address=key, next_nonce=chain.pending))
            except IntegrityError:
                pass  # another process started the counter first
            continue
        current = row.next_nonce
        start = _reconciled(session, network, address, current, chain)
        changed = session.execute(
            update(NonceRow)
            .where(
                NonceRow.network == network,
                NonceRow.address == key,
                NonceRow.next_nonce == current,
            )
            .values(next_nonce=start + 1)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount == 1:  # type: ignore[attr-defined]
            return start
    raise RuntimeError(f"could not allocate a nonce for {address} on {network}")


def _reconciled(
    session: Session, network: str, address: str, counter: int, chain: ChainNonces
) -> int:
    """The nonce to hand out given the database `counter` and what the chain shows."""
    if chain.pending > counter:
        log.warning(
            "nonce of %s on %s: the chain is at %d, the database at %d; an outside spend or "
            "a transaction signed elsewhere used the nonces between, moving forward",
            address,
            network,
            chain.pending,
            counter,
        )
        return chain.pending
    if chain.pending == counter:
        return counter
    ours = gap_transactions(session, network, address, chain.pending, counter)
    live = [t for t, status in ours if status in LIVE_PAYOUT_STATES]
    if live:
        raise NonceGap(
            address,
            network,
            f"{address} on {network}: the chain shows nonce {chain.pending}, the database "
            f"{counter}; our signed transactions {', '.join(t.tx_hash for t in live[:3])} "
            "(nonces "
            f"{', '.join(str(t.nonce) for t in live[:3])}) have not arrived and are sent again "
            "first",
            live,
        )
    if not chain.complete:
        raise NonceGap(
            address,
            network,
            f"{address} on {network}: the chain shows nonce {chain.pending}, the database "
            f"{counter}; not every endpoint answered, so the gap is judged later",
            [],
        )
    log.warning(
        "nonce of %s on %s: every endpoint shows %d, the database %d, and the nonces between "
        "hold only settled payouts' transactions (%d): the chain forgot them (a node reset); "
        "moving back",
        address,
        network,
        chain.pending,
        counter,
        len(ours),
    )
    return chain.pending


def gap_transactions(
    session: Session, network: str, address: str, low: int, high: int
) -> list[tuple[GapTransaction, str]]:
    """Our signed transactions from `address` with nonces in [low, high), with case states."""
    rows = session.execute(
        select(PayoutTransactionRow, CaseRow.status)
        .join(PayoutRow, PayoutRow.id == PayoutTransactionRow.payout_id)
        .join(CaseRow, CaseRow.id == PayoutRow.case_id)
        .where(
            PayoutRow.network == network,
            func.lower(PayoutTransactionRow.sender) == address.lower(),
            PayoutTransactionRow.nonce >= low,
            PayoutTransactionRow.nonce < high,
            PayoutTransactionRow.state != "abandoned",
        )
        .order_by(PayoutTransactionRow.nonce, PayoutTransactionRow.id.desc())
    ).all()
    seen: set[tuple[str, int]] = set()
    found: list[tuple[GapTransaction, str]] = []
    for row, status in rows:
        # Only the newest candidate per payout and nonce (a bump replaces the older).
        if (row.payout_id, row.nonce) in seen:
            continue
        seen.add((row.payout_id, row.nonce))
        if row.kind == "gas_topup" and row.state == "mined":
            continue
        effective = status
        if row.kind == "gas_topup" and status not in _SETTLED:
            # A top-up in flight is the gas wallet's own: live while its case is not settled
            # (a case on hold leaves it behind, and it must still land to close the gap).
            effective = CaseStatus.PAYOUT_PENDING.value
        found.append((GapTransaction(row.payout_id, row.nonce, row.tx_hash, row.raw), effective))
    return found
