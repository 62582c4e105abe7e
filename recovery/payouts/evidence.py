"""Asking every endpoint of a network, for judgements that need complete evidence.

A nonce is judged used by someone else, or forgotten by the chain, only when every
endpoint answered; one lagging or unreachable endpoint makes the judgement wait.
"""

from __future__ import annotations

from chains.errors import ChainError
from chains.evm.adapter import EvmAdapter
from chains.evm.payout import Receipt
from recovery.payouts.nonces import ChainNonces


class Witnesses:
    """One single-endpoint adapter per endpoint of a network's adapter, made once."""

    def __init__(self, adapter: EvmAdapter, *, timeout: float = 5.0) -> None:
        self.adapter = adapter
        self._each = [
            EvmAdapter(
                adapter.network, [endpoint], timeout=timeout, retries=0, identity=adapter.identity
            )
            for endpoint in adapter.endpoints
        ]

    def close(self) -> None:
        """Release the endpoints' connections."""
        for each in self._each:
            each.close()

    def nonces(self, address: str, *, finality_depth: int = 64) -> ChainNonces:
        """The address's nonces on every endpoint that answers: pending, latest and final.

        Final is the count at the `finalized` block (or `finality_depth` below the head on
        a node without that tag): a nonce below it is used for good, whatever reorgs come.
        Raises `ChainError` when none answers: nothing can be judged then.
        """
        pending: list[int] = []
        latest: list[int] = []
        final: list[int] = []
        heads: list[int] = []
        failures: list[str] = []
        for each in self._each:
            try:
                head = each.head()
                answers = (each.nonce(address, "pending"), each.nonce(address, "latest"))
                try:
                    settled = each.nonce(address, "finalized")
                except ChainError:
                    settled = each.nonce(address, max(head - finality_depth, 0))
            except ChainError as exc:
                failures.append(str(exc))
                continue
            pending.append(answers[0])
            latest.append(answers[1])
            final.append(settled)
            heads.append(head)
        if not pending:
            raise ChainError(
                f"no {self.adapter.network} endpoint answered the nonce of {address}: "
                + "; ".join(failures)
            )
        return ChainNonces(
            pending=max(pending),
            latest=max(latest),
            lowest_pending=min(pending),
            complete=not failures,
            lowest_latest=min(latest),
            lowest_final=min(final),
            lowest_head=min(heads),
        )

    def knows_any(self, hashes: list[str]) -> bool | None:
        """True when some endpoint knows one of `hashes` (mined or pending).

        None when an endpoint could not be asked: the answer is incomplete.
        """
        complete = True
        for each in self._each:
            try:
                receipts = each.receipts(hashes)
                if any(r is not None for r in receipts.values()):
                    return True
                if any(each.transaction_by_hash(h) is not None for h in hashes):
                    return True
            except ChainError:
                complete = False
        return False if complete else None


def canonical_receipts(
    adapter: EvmAdapter, hashes: list[str]
) -> tuple[Receipt | None, Receipt | None]:
    """The successful and the failed receipt among `hashes`, canonical ones only.

    A receipt whose block hash is not the canonical one at its height is dropped: that
    block was reorged out, and the transaction may be mined again elsewhere.
    """
    receipts = adapter.receipts(hashes) if hashes else {}
    mined = [r for r in receipts.values() if r is not None]
    if not mined:
        return None, None
    canonical = adapter.block_hashes(sorted({r.block_number for r in mined}))
    kept = [r for r in mined if canonical.get(r.block_number) == r.block_hash]
    success = next((r for r in kept if r.status == "success"), None)
    failed = next((r for r in kept if r.status == "failed"), None)
    return success, failed
