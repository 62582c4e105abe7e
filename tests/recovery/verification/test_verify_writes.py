"""The batched write of a verification cycle never overrides what a user did meanwhile."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chains.base import TransactionFacts
from chains.devnet import DevnetCluster
from chains.evm import EvmAdapter
from tests.recovery.verification.builders import DEPOSIT, Flow


class CancelDuringRead:
    """An adapter that lets the user cancel a case while the cycle reads the chain."""

    def __init__(self, real: EvmAdapter, cancel: Any) -> None:
        self.real = real
        self.cancel = cancel

    def transactions(self, hashes: Sequence[str]) -> dict[str, TransactionFacts | None]:
        self.cancel()
        return self.real.transactions(hashes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_cancel_between_claim_and_write_wins_and_the_rest_proceed(
    flow: Flow, devnet: DevnetCluster, adapters: dict[str, EvmAdapter]
) -> None:
    bsc = devnet.chain("bsc")
    first = flow.file(tx_hash=bsc.send(bsc.accounts[5], to=DEPOSIT, value=10**18))
    second = flow.file(tx_hash=bsc.send(bsc.accounts[6], to=DEPOSIT, value=2 * 10**18))

    def cancel() -> None:
        response = flow.client.post(f"/v1/appeals/{first['id']}/cancel", headers=flow.headers)
        assert response.status_code == 200, response.text

    flow.checker.adapters = {**adapters, "bsc": CancelDuringRead(adapters["bsc"], cancel)}  # type: ignore[dict-item]
    report = flow.checker.verify_cycle()

    assert flow.read(first)["status"] == "cancelled"
    assert [e["to_status"] for e in flow.events(first)] == ["submitted", "cancelled"]
    assert flow.read(second)["status"] == "confirming"
    assert [e["to_status"] for e in flow.events(second)] == [
        "submitted",
        "verifying",
        "confirming",
    ]
    assert report.moved["confirming"] == 1
