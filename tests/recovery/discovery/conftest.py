"""A paying desk with a discovery scanner over the same devnets, starting at their heads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from chains.devnet import DevnetCluster
from chains.signers.hd import HdSigner
from recovery.api.context import AppContext
from recovery.discovery.scan import Discoverer, DiscoveryReport, DiscoveryTiming
from recovery.payouts.engine import PayoutEngine
from tests.conftest import Clock
from tests.recovery.payouts.conftest import at_most_one_payout_per_case as at_most_one_payout
from tests.recovery.payouts.conftest import open_desk
from tests.recovery.payouts.conftest import signer as signer
from tests.recovery.review.conftest import Desk

# Every payout a discovery test makes is checked on chain: at most one per case.
at_most_one_payout_per_case = at_most_one_payout


@dataclass
class Finder:
    """The desk, its payout engine, and a scanner that starts at the devnets' heads."""

    desk: Desk
    engine: PayoutEngine
    context: AppContext
    starts: dict[str, int]

    def scanner(self, **timing: Any) -> Discoverer:
        """A new scanner (a new process) on the desk's database and adapters."""
        return Discoverer(
            self.context.database,
            self.context.policy,
            self.desk.checker.adapters,
            self.desk.clock,
            timing=DiscoveryTiming(start_blocks=self.starts, **timing),
        )

    def scan(self, scanner: Discoverer | None = None) -> dict[str, DiscoveryReport]:
        """One discovery cycle per network."""
        scanner = scanner or self.scanner()
        return {n: scanner.discover_cycle(n) for n in ("ethereum", "bsc")}

    def found(self, headers: dict[str, str] | None = None, **query: str) -> list[dict[str, Any]]:
        """The found deposits the API lists (alice's by default)."""
        response = self.desk.client.get(
            "/v1/found-deposits", params=query, headers=headers or self.desk.alice
        )
        assert response.status_code == 200, response.text
        return response.json()["items"]  # type: ignore[no-any-return]


@pytest.fixture
def finder(
    context: AppContext, auth: Any, clock: Clock, devnet: DevnetCluster, signer: HdSigner
) -> Iterator[Finder]:
    adapters = {n: devnet.adapter(n) for n in ("ethereum", "bsc")}
    starts = {n: devnet.chain(n).head() + 1 for n in ("ethereum", "bsc")}
    with open_desk(context, auth, clock, devnet, signer, adapters) as (desk, engine):
        yield Finder(desk, engine, context, starts)
