"""Nonces per sending address, allocated from the database (one writer per address)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from recovery.db.tables import NonceRow


def allocate_nonce(
    session: Session, network: str, address: str, chain_pending: Callable[[], int]
) -> int:
    """The next nonce of `address` on `network`, reserved for the caller's transaction.

    The first time an address sends, its counter starts at the chain's pending count;
    after that only the database counts. A conditional UPDATE makes two allocators race
    safely: the loser sees zero rows changed and reads again.
    """
    key = address.lower()
    for _ in range(20):
        row = session.get(NonceRow, (network, key), populate_existing=True)
        if row is None:
            try:
                with session.begin_nested():
                    session.add(NonceRow(network=network, address=key, next_nonce=chain_pending()))
            except IntegrityError:
                pass  # another process started the counter first
            continue
        current = row.next_nonce
        changed = session.execute(
            update(NonceRow)
            .where(
                NonceRow.network == network,
                NonceRow.address == key,
                NonceRow.next_nonce == current,
            )
            .values(next_nonce=current + 1)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount == 1:  # type: ignore[attr-defined]
            return current
    raise RuntimeError(f"could not allocate a nonce for {address} on {network}")
