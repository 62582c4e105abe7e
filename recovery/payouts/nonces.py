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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from recovery.db.tables import CaseRow, NonceRow, PayoutRow, PayoutTransactionRow
from recovery.domain.states import CaseStatus

log = logging.getLogger(__name__)

# A payout in one of these may still put its signed transaction on chain.
LIVE_PAYOUT_STATES = frozenset({CaseStatus.PAYOUT_PENDING.value, CaseStatus.PAYOUT_SENT.value})

# A paid payout the finality watch has yet to judge.
WATCHED = "watched"
_SETTLED = frozenset({CaseStatus.PAID.value, CaseStatus.REJECTED.value, CaseStatus.CANCELLED.value})


@dataclass(frozen=True)
class ChainNonces:
    """What the endpoints say of an address's transaction count.

    `pending` and `latest` are the highest any endpoint reported (a lagging endpoint
    reports less); `lowest_pending`, `lowest_latest` and `lowest_final` (the count at the
    final block) the lowest, and `lowest_head` the lowest head; `complete` is True when
    every endpoint answered.
    """

    pending: int
    latest: int
    lowest_pending: int
    complete: bool
    lowest_latest: int = 0
    lowest_final: int = 0
    lowest_head: int = 0


@dataclass(frozen=True)
class GapTransaction:
    """One of our signed transactions whose nonce the chain does not show as used."""

    payout_id: str
    nonce: int
    tx_hash: str
    raw: str
    delivered_block: int | None = None


class NonceGap(Exception):
    """Raised when the chain is behind the counter and the gap must close first."""

    def __init__(
        self, address: str, network: str, detail: str, waiting_on: Sequence[GapTransaction]
    ):
        self.address = address
        self.network = network
        self.waiting_on = tuple(waiting_on)
        super().__init__(detail)


def allocate_nonce(
    session: Session,
    network: str,
    address: str,
    chain: ChainNonces,
    known: Callable[[list[str]], bool | None] = lambda _hashes: None,
) -> int:
    """The next nonce of `address` on `network`, reconciled with `chain`, for the caller.

    `known` says whether any endpoint knows one of some hashes (None: not every endpoint
    could be asked); the counter moves back over our own transactions only when it is False.
    """
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
        start = _reconciled(session, network, address, current, chain, known)
        changed = session.execute(
            update(NonceRow)
            .where(
                col(NonceRow.network) == network,
                col(NonceRow.address) == key,
                col(NonceRow.next_nonce) == current,
            )
            .values(next_nonce=start + 1)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount == 1:  # type: ignore[attr-defined]
            return start
    raise RuntimeError(f"could not allocate a nonce for {address} on {network}")


def _reconciled(
    session: Session,
    network: str,
    address: str,
    counter: int,
    chain: ChainNonces,
    known: Callable[[list[str]], bool | None],
) -> int:
    """The nonce to hand out given the database `counter` and what the chain shows."""
    where = f"{address} on {network}"
    if chain.pending > counter:
        if not chain.complete or chain.lowest_pending <= counter:
            # One endpoint counting past the database is not the chain's word yet.
            raise NonceGap(
                address,
                network,
                f"{where}: an endpoint shows nonce {chain.pending}, the database and "
                f"another endpoint {counter} (or not every endpoint answered); nothing is "
                "signed until they agree",
                [],
            )
        log.warning(
            "nonce of %s: every endpoint is at %d or more, the database at %d; an outside "
            "spend or a transaction signed elsewhere used the nonces between, moving forward",
            where,
            chain.lowest_pending,
            counter,
        )
        return chain.lowest_pending
    if chain.pending == counter:
        return counter
    ours = gap_transactions(session, network, address, chain.pending, counter)
    live = [gap for gap, status in ours if status in LIVE_PAYOUT_STATES]
    if live:
        raise NonceGap(
            address,
            network,
            f"{where}: the chain shows nonce {chain.pending}, the database {counter}; our "
            f"signed transactions {', '.join(t.tx_hash for t in live[:3])} (nonces "
            f"{', '.join(str(t.nonce) for t in live[:3])}) have not arrived and are sent again "
            "first",
            live,
        )
    watched = [gap for gap, status in ours if status == WATCHED]
    highest = max((gap.delivered_block or 0 for gap, _ in ours), default=0)
    hashes = [gap.tx_hash for gap, _ in ours]
    waiting = None
    if watched:
        waiting = (
            f"paid payout {watched[0].tx_hash} is missing and its finality watch has not "
            "judged it yet"
        )
    elif not chain.complete:
        waiting = "not every endpoint answered"
    elif chain.lowest_head < highest:
        waiting = f"an endpoint is at block {chain.lowest_head}, below our payout's {highest}"
    elif hashes and known(hashes) is not False:
        waiting = "an endpoint still knows one of our transactions there, or could not be asked"
    if waiting is not None:
        raise NonceGap(
            address,
            network,
            f"{where}: the chain shows nonce {chain.pending}, the database {counter}; "
            f"{waiting}, so the gap is judged later",
            [],
        )
    log.warning(
        "nonce of %s: every endpoint shows %d, the database %d, and the nonces between hold "
        "only settled payouts' transactions (%d) that no endpoint knows: the chain forgot them "
        "(a node reset); moving back",
        where,
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
        select(
            PayoutTransactionRow,
            col(CaseRow.status),
            col(PayoutRow.final_at),
            col(PayoutRow.orphaned_at),
            col(PayoutRow.delivered_block),
        )
        .join(PayoutRow, col(PayoutRow.id) == col(PayoutTransactionRow.payout_id))
        .join(CaseRow, col(CaseRow.id) == col(PayoutRow.case_id))
        .where(
            col(PayoutRow.network) == network,
            func.lower(col(PayoutTransactionRow.sender)) == address.lower(),
            col(PayoutTransactionRow.nonce) >= low,
            col(PayoutTransactionRow.nonce) < high,
            col(PayoutTransactionRow.state) != "abandoned",
            # Given up on only once its nonce was used for good: it can never land.
            col(PayoutTransactionRow.kind) != "failed_transfer",
        )
        .order_by(col(PayoutTransactionRow.nonce), col(PayoutTransactionRow.id).desc())
    ).all()
    seen: set[tuple[str, int]] = set()
    found: list[tuple[GapTransaction, str]] = []
    for row, status, final_at, orphaned_at, delivered_block in rows:
        # Only the newest candidate per payout and nonce (a bump replaces the older).
        if (row.payout_id, row.nonce) in seen:
            continue
        seen.add((row.payout_id, row.nonce))
        if row.kind == "gas_topup" and row.state == "mined":
            continue
        effective = status
        if status == CaseStatus.PAID.value and final_at is None and orphaned_at is None:
            # Paid, not final, its transaction missing: the paid watch decides whether it
            # was reorged out (tracked again) or orphaned with its deposit; until then the
            # gap waits, and nothing of it is sent from here.
            effective = WATCHED
        if row.kind == "gas_topup" and status not in _SETTLED:
            # A top-up in flight is the gas wallet's own: live while its case is not settled
            # (a case on hold leaves it behind, and it must still land to close the gap).
            effective = CaseStatus.PAYOUT_PENDING.value
        found.append(
            (
                GapTransaction(row.payout_id, row.nonce, row.tx_hash, row.raw, delivered_block),
                effective,
            )
        )
    return found
